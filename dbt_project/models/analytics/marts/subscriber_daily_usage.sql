{#- Usage per subscriber per day, with the day's rank (top talkers) and churn signals. -#}
with daily as (
    select
        billing.*,
        dims.region_code,
        dims.segment,
        rank() over (partition by billing.local_date order by billing.billed_minutes desc) as minutes_rank
    from {{ ref('fct_billing_daily') }} as billing
    inner join {{ ref('dim_subscriber') }} as dims on billing.subscriber_key = dims.subscriber_key
)

select
    subscriber_key,
    local_date,
    region_code,
    segment,
    billed_minutes,
    sms_sent,
    data_mb,
    total_charge,
    minutes_rank,
    minutes_rank <= 100 as is_top_talker,
    -- Churn signals: days since the previous active day, and spend against the own average.
    date_diff('day', lag(local_date) over (partition by subscriber_key order by local_date), local_date)
        as days_since_previous_activity,
    {{ ratio('total_charge', 'avg(total_charge) over (partition by subscriber_key)') }} as spend_vs_own_average
from daily
