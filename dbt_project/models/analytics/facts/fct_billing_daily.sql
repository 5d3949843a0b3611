{#- Rated usage per subscriber per local day (usage charges; monthly fees are not prorated here). -#}
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
        billed_minutes,
        0 as sms_count,
        0e0 as volume_mb,
        charge as voice_charge,
        0e0 as sms_charge,
        0e0 as data_charge,
        ingested_at,
        pipeline_run
    from {{ ref('fct_voice_calls') }}
    where local_date in (select affected.local_date from affected)
    union all
    select
        subscriber_key,
        local_date,
        0 as billed_minutes,
        case when direction = 'MO' then 1 else 0 end as sms_count,
        0e0 as volume_mb,
        0e0 as voice_charge,
        charge as sms_charge,
        0e0 as data_charge,
        ingested_at,
        pipeline_run
    from {{ ref('fct_sms_messages') }}
    where local_date in (select affected.local_date from affected)
    union all
    select
        subscriber_key,
        local_date,
        0 as billed_minutes,
        0 as sms_count,
        volume_mb,
        0e0 as voice_charge,
        0e0 as sms_charge,
        charge as data_charge,
        ingested_at,
        pipeline_run
    from {{ ref('fct_data_sessions') }}
    where local_date in (select affected.local_date from affected)
)

select
    subscriber_key,
    local_date,
    cast(date_format(local_date, '%Y%m%d') as integer) as date_key,
    sum(billed_minutes) as billed_minutes,
    sum(sms_count) as sms_sent,
    sum(volume_mb) as data_mb,
    sum(voice_charge) as voice_charge,
    sum(sms_charge) as sms_charge,
    sum(data_charge) as data_charge,
    sum(voice_charge) + sum(sms_charge) + sum(data_charge) as total_charge,
    max(ingested_at) as last_ingested_at,
    max(pipeline_run) as last_pipeline_run
from usage
group by subscriber_key, local_date
