{#-
  One value of the lakehouse settings: `namespaces` (a dict by layer) or `time_zone`. `lakehouse`
  renders them from core/settings.py (.env, LAKEHOUSE_* variables) into
  macros/generated/lakehouse_settings.sql (git-ignored: it follows each user's .env).
-#}
{% macro lakehouse_setting(name) -%}
    {%- if builtins is not defined -%}
        {#- sqlfluff's jinja templater (make lint), not dbt: placeholders are enough to lint. -#}
        {%- do return({"namespaces": {}, "time_zone": "UTC"}[name]) -%}
    {%- elif lakehouse_settings is not defined -%}
        {{ exceptions.raise_compiler_error(
            "macros/generated/lakehouse_settings.sql is missing: run `lakehouse up` or any `lakehouse` "
            ~ "dbt command (e.g. `make dbt ARGS=debug`) to render it from the settings"
        ) }}
    {%- endif -%}
    {%- do return(lakehouse_settings()[name]) -%}
{%- endmacro %}
