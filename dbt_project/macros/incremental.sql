{#-
  Rows that later pipeline runs brought: `column` (a run number) past the newest this model
  already holds; every row on a full build. int_cdr_checked numbers each run's rows in one commit
  and runs are serialised by the pipeline lock, so a run number orders commits - unlike a clock
  stamped before a commit, which a concurrent writer's later commit can fall behind.
-#}
{% macro in_new_runs(column='pipeline_run', watermark_column=none) -%}
    {%- if is_incremental() -%}
        {{ column }} > (select coalesce(max({{ watermark_column or column }}), 0) from {{ this }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The number of the run appending to int_cdr_checked: one past the last it holds. -#}
{% macro next_pipeline_run() -%}
    {%- if is_incremental() -%}
        (select coalesce(max(pipeline_run), 0) + 1 from {{ this }})
    {%- else -%}
        cast(1 as bigint)
    {%- endif -%}
{%- endmacro %}

{#- Local calendar date and hour of a UTC timestamp, in the network's zone (settings.time_zone). -#}
{% macro local_date(ts) -%} date(at_timezone({{ ts }}, '{{ lakehouse_setting("time_zone") }}')) {%- endmacro %}
{% macro local_hour(ts) -%} hour(at_timezone({{ ts }}, '{{ lakehouse_setting("time_zone") }}')) {%- endmacro %}

{#- Safe ratio: null when the denominator is zero. -#}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- Local dates that received facts in runs after this mart's last build (all dates on a full build). -#}
{% macro affected_local_dates() -%}
    {%- for fact in ['fct_voice_calls', 'fct_sms_messages', 'fct_data_sessions'] %}
    select local_date from {{ ref(fact) }} where {{ in_new_runs('pipeline_run', 'last_pipeline_run') }}
    {%- if not loop.last %} union {% endif %}
    {%- endfor %}
{%- endmacro %}

{#- The time keys every fact carries, from one UTC timestamp: calendar key, local day and hour, UTC hour. -#}
{% macro time_keys(ts) -%}
    cast(date_format({{ local_date(ts) }}, '%Y%m%d') as integer) as date_key,
    {{ local_date(ts) }} as local_date,
    {{ local_hour(ts) }} as local_hour,
    date_trunc('hour', {{ ts }}) as hour_start
{%- endmacro %}
