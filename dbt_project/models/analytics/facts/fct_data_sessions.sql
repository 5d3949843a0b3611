{#- One row per valid data session; volume billed per MB (10^6 bytes) up + down. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    properties={"partitioning": "ARRAY['local_date']"},
) }}

with sessions as (
    select * from {{ ref('data_sessions') }}
    where {{ in_new_runs() }}
)

select
    sessions.record_id,
    sessions.subscriber_key,
    sessions.network_element_id,
    {{ time_keys('sessions.start_time') }},
    sessions.result,
    sessions.result = 'failed' as is_failed,
    sessions.duration_s,
    sessions.bytes_up,
    sessions.bytes_down,
    (sessions.bytes_up + sessions.bytes_down) / 1e6 as volume_mb,
    (sessions.bytes_up + sessions.bytes_down) / 1e6 * plans.price_per_mb as charge,
    sessions.ingested_at,
    sessions.pipeline_run
from sessions
left join {{ ref('subscribers') }} as subscribers on sessions.subscriber_key = subscribers.subscriber_key
left join {{ ref('tariff_plans') }} as plans on subscribers.plan_id = plans.plan_id
