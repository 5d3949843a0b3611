{#-
  Layers land in schemas named exactly `staging`, `clean`, `analytics` (not `<target>_<layer>`).
  The var `schema_prefix` builds a separate copy (the benchmarks use `bench_`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ var('schema_prefix', '') }}{{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
