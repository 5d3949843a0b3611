{#- One row per valid call; originated answered calls are billed per started minute. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    properties={"partitioning": "ARRAY['local_date']"},
) }}

with calls as (
    select * from {{ ref('voice_calls') }}
    where {{ in_new_runs() }}
)

select
    calls.record_id,
    calls.subscriber_key,
    calls.network_element_id,
    {{ time_keys('calls.start_time') }},
    calls.direction,
    calls.result,
    calls.cause_code,
    calls.is_answered,
    calls.is_dropped,
    calls.duration_s,
    case
        when calls.direction = 'MO' and calls.is_answered then cast(ceiling(calls.duration_s / 60e0) as integer) else 0
    end
        as billed_minutes,
    case
        when
            calls.direction = 'MO' and calls.is_answered
            then ceiling(calls.duration_s / 60e0) * plans.price_per_minute
        else 0
    end
        as charge,
    calls.ingested_at,
    calls.pipeline_run
from calls
left join {{ ref('subscribers') }} as subscribers on calls.subscriber_key = subscribers.subscriber_key
left join {{ ref('tariff_plans') }} as plans on subscribers.plan_id = plans.plan_id
