{#-
  Usage per local hour and day by the subscriber's segment, service, plan and home region: the
  hourly and weekly curves of the subscriber dashboards, read from a few thousand rows instead of
  a scan of the three fact tables per chart.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='local_date',
) }}

with affected as (
    {{ affected_local_dates() }}
),

usage as (
    select
        subscriber_key,
        local_date,
        local_hour,
        1 as calls,
        duration_s / 60e0 as voice_minutes,
        0 as sms,
        0 as data_sessions,
        0e0 as data_mb,
        pipeline_run
    from {{ ref('fct_voice_calls') }}
    where local_date in (select affected.local_date from affected)
    union all
    select
        subscriber_key,
        local_date,
        local_hour,
        0 as calls,
        0e0 as voice_minutes,
        1 as sms,
        0 as data_sessions,
        0e0 as data_mb,
        pipeline_run
    from {{ ref('fct_sms_messages') }}
    where local_date in (select affected.local_date from affected)
    union all
    select
        subscriber_key,
        local_date,
        local_hour,
        0 as calls,
        0e0 as voice_minutes,
        0 as sms,
        1 as data_sessions,
        volume_mb as data_mb,
        pipeline_run
    from {{ ref('fct_data_sessions') }}
    where local_date in (select affected.local_date from affected)
)

select
    usage.local_date,
    usage.local_hour,
    date_add('hour', usage.local_hour, cast(usage.local_date as timestamp)) as local_hour_start,
    dates.iso_day_of_week,
    dates.day_name,
    cast(dates.iso_day_of_week as varchar) || ' ' || dates.day_name as weekday,
    dates.is_weekend,
    subscribers.segment,
    subscribers.service,
    subscribers.plan_name,
    subscribers.region_code,
    count(*) as events,
    sum(usage.calls) as calls,
    sum(usage.voice_minutes) as voice_minutes,
    sum(usage.sms) as sms,
    sum(usage.data_sessions) as data_sessions,
    sum(usage.data_mb) as data_mb,
    max(usage.pipeline_run) as last_pipeline_run
from usage
inner join {{ ref('dim_subscriber') }} as subscribers on usage.subscriber_key = subscribers.subscriber_key
inner join {{ ref('dim_date') }} as dates on usage.local_date = dates.calendar_date
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
