{#- Rows ingested after the newest row this incremental model already holds. -#}
{% macro after_watermark(column='ingested_at', watermark_column=none) -%}
    {%- if is_incremental() -%}
        {{ column }} > (
            select coalesce(max({{ watermark_column or column }}), timestamp '1970-01-01 00:00:00 UTC')
            from {{ this }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Local calendar date and hour of a UTC timestamp, in the network's zone (settings.time_zone). -#}
{% macro local_date(ts) -%} date(at_timezone({{ ts }}, '{{ lakehouse_setting("time_zone") }}')) {%- endmacro %}
{% macro local_hour(ts) -%} hour(at_timezone({{ ts }}, '{{ lakehouse_setting("time_zone") }}')) {%- endmacro %}

{#- Safe ratio: null when the denominator is zero. -#}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- Local dates that received facts since this mart was last built (all dates on a full build). -#}
{% macro affected_local_dates() -%}
    {%- for fact in ['fct_voice_calls', 'fct_sms_messages', 'fct_data_sessions'] %}
    select local_date from {{ ref(fact) }} where {{ after_watermark('ingested_at', 'last_ingested_at') }}
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
