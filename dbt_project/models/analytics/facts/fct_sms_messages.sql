{#- One row per valid SMS; delivered originated messages are billed. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    properties={"partitioning": "ARRAY['local_date']"},
) }}

with messages as (
    select * from {{ ref('sms_messages') }}
    where {{ in_new_runs() }}
)

select
    messages.record_id,
    messages.subscriber_key,
    messages.network_element_id,
    {{ time_keys('messages.start_time') }},
    messages.direction,
    messages.result,
    messages.is_delivered,
    case when messages.direction = 'MO' and messages.is_delivered then plans.price_per_sms else 0 end as charge,
    messages.ingested_at,
    messages.pipeline_run
from messages
left join {{ ref('subscribers') }} as subscribers on messages.subscriber_key = subscribers.subscriber_key
left join {{ ref('tariff_plans') }} as plans on subscribers.plan_id = plans.plan_id
