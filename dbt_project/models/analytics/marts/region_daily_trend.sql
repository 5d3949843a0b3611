{#- Day-over-day change per region. -#}
select
    region_code,
    local_date,
    call_attempts,
    revenue,
    data_mb,
    active_subscribers,
    {{ ratio('call_attempts', 'lag(call_attempts) over by_region') }} - 1 as call_attempts_change,
    {{ ratio('revenue', 'lag(revenue) over by_region') }} - 1 as revenue_change,
    {{ ratio('data_mb', 'lag(data_mb) over by_region') }} - 1 as data_mb_change,
    {{ ratio('active_subscribers', 'lag(active_subscribers) over by_region') }} - 1 as active_subscribers_change
from {{ ref('kpi_region_daily') }}
window by_region as (partition by region_code order by local_date)
