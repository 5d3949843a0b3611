{#-
  The raw source lives in settings.namespaces.raw. A sources yml cannot call macros, so this
  override of dbt's `source` moves the `raw` source there (and `raw_truth` beside it); the var `raw_schema` (the benchmarks'
  copy) wins over the setting. Other sources are left as declared.
-#}
{% macro source(source_name, table_name) -%}
    {#- sqlfluff's jinja templater (make lint) has no dbt `builtins`: a name is enough to lint. -#}
    {%- if builtins is not defined -%}{%- do return(source_name ~ '_' ~ table_name) -%}{%- endif -%}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if source_name == 'raw' -%}
        {%- set schema = var('raw_schema', none) or lakehouse_setting('namespaces')['raw'] -%}
        {%- do return(relation.incorporate(path={"schema": schema})) -%}
    {%- elif source_name == 'raw_truth' -%}
        {%- do return(relation.incorporate(path={"schema": lakehouse_setting('namespaces')['raw_truth']})) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#-
  ` for version as of <id>` when the var `var_name` holds a snapshot id: the pipeline pins raw.cdr
  to the snapshot its raw gate judged, so rows committed later wait for the next run.
-#}
{% macro pinned_snapshot(var_name) -%}
    {%- if builtins is not defined -%}{%- do return('') -%}{%- endif -%}  {#- sqlfluff: no dbt context -#}
    {%- set snapshot = var(var_name, none) -%}
    {%- if snapshot is not none -%}
        {%- if not (snapshot | string).isdigit() -%}
            {{ exceptions.raise_compiler_error(var_name ~ " must be an Iceberg snapshot id, got: " ~ snapshot) }}
        {%- endif %} for version as of {{ snapshot }}
    {%- endif -%}
{%- endmacro %}
