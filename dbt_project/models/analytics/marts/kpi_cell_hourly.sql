{#-
  Network KPIs per cell (or access node) per hour:
  ASR = answered / attempts (ITU-T E.411); ACD = answered seconds / answered calls;
  drop-call rate = dropped / answered (ETSI TS 102 250-2); Erlangs = holding seconds / 3600.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='local_date',
) }}

with affected as (
    {{ affected_local_dates() }}
),

voice as (
    select
        network_element_id,
        hour_start,
        local_date,
        local_hour,
        count(*) as call_attempts,
        count_if(is_answered) as answered_calls,
        count_if(is_dropped) as dropped_calls,
        count_if(result = 'failed') as failed_calls,
        sum(case when is_answered then duration_s else 0 end) as answered_seconds,
        max(ingested_at) as last_ingested_at,
        max(pipeline_run) as last_pipeline_run
    from {{ ref('fct_voice_calls') }}
    where local_date in (select affected.local_date from affected)
    group by 1, 2, 3, 4
),

sms as (
    select
        network_element_id,
        hour_start,
        local_date,
        local_hour,
        count(*) as sms_count,
        count_if(not is_delivered) as failed_sms,
        max(ingested_at) as last_ingested_at,
        max(pipeline_run) as last_pipeline_run
    from {{ ref('fct_sms_messages') }}
    where local_date in (select affected.local_date from affected)
    group by 1, 2, 3, 4
),

data as (
    select
        network_element_id,
        hour_start,
        local_date,
        local_hour,
        count(*) as data_sessions,
        count_if(is_failed) as failed_sessions,
        sum(volume_mb) as data_mb,
        max(ingested_at) as last_ingested_at,
        max(pipeline_run) as last_pipeline_run
    from {{ ref('fct_data_sessions') }}
    where local_date in (select affected.local_date from affected)
    group by 1, 2, 3, 4
),

cell_hours as (
    select
        network_element_id,
        hour_start,
        local_date,
        local_hour
    from voice
    union distinct
    select
        network_element_id,
        hour_start,
        local_date,
        local_hour
    from sms
    union distinct
    select
        network_element_id,
        hour_start,
        local_date,
        local_hour
    from data
)

select
    cell_hours.network_element_id,
    cell_hours.hour_start,
    cell_hours.local_date,
    cell_hours.local_hour,
    coalesce(voice.call_attempts, 0) as call_attempts,
    coalesce(voice.answered_calls, 0) as answered_calls,
    coalesce(voice.dropped_calls, 0) as dropped_calls,
    coalesce(voice.failed_calls, 0) as failed_calls,
    coalesce(voice.answered_seconds, 0) as answered_seconds,
    {{ ratio('voice.answered_calls', 'voice.call_attempts') }} as asr,
    {{ ratio('voice.answered_seconds', 'voice.answered_calls') }} as acd_seconds,
    {{ ratio('voice.dropped_calls', 'voice.answered_calls') }} as drop_call_rate,
    coalesce(voice.answered_seconds, 0) / 3600e0 as erlangs,
    coalesce(sms.sms_count, 0) as sms_count,
    coalesce(sms.failed_sms, 0) as failed_sms,
    coalesce(data.data_sessions, 0) as data_sessions,
    coalesce(data.failed_sessions, 0) as failed_sessions,
    coalesce(data.data_mb, 0) as data_mb,
    greatest(
        coalesce(voice.last_ingested_at, timestamp '1970-01-01 00:00:00 UTC'),
        coalesce(sms.last_ingested_at, timestamp '1970-01-01 00:00:00 UTC'),
        coalesce(data.last_ingested_at, timestamp '1970-01-01 00:00:00 UTC')
    ) as last_ingested_at,
    greatest(
        coalesce(voice.last_pipeline_run, 0),
        coalesce(sms.last_pipeline_run, 0),
        coalesce(data.last_pipeline_run, 0)
    ) as last_pipeline_run
from cell_hours
left join voice
    on cell_hours.network_element_id = voice.network_element_id and cell_hours.hour_start = voice.hour_start
left join sms
    on cell_hours.network_element_id = sms.network_element_id and cell_hours.hour_start = sms.hour_start
left join data
    on cell_hours.network_element_id = data.network_element_id and cell_hours.hour_start = data.hour_start
