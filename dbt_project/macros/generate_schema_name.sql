{#-
  Each folder's `+schema` names its logical layer (staging, intermediate, clean, analytics); the
  layer lands in the namespace the settings give it (settings.namespaces; by default the same
  name), not in dbt's `<target>_<layer>`. Other names (dbt's own, e.g. for stored test failures)
  are kept. The var `schema_prefix` builds a separate copy (the benchmarks use `bench_`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set name = (custom_schema_name or target.schema) | trim -%}
    {{ var('schema_prefix', '') }}{{ lakehouse_setting('namespaces').get(name, name) }}
{%- endmacro %}
