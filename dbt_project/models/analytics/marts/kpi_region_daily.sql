{#-
  Per region per local day. Network KPIs come from the cells of the region; subscriber KPIs
  (active subscribers, revenue, ARPU, data per subscriber) from subscribers living there.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='local_date',
) }}

with affected as (
    {{ affected_local_dates() }}
),

network as (
    select
        elements.region_code,
        cells.local_date,
        sum(cells.call_attempts) as call_attempts,
        sum(cells.answered_calls) as answered_calls,
        sum(cells.dropped_calls) as dropped_calls,
        sum(cells.answered_seconds) as answered_seconds,
        sum(cells.erlangs) as erlang_hours,
        sum(cells.sms_count) as sms_count,
        sum(cells.data_mb) as data_mb,
        max(cells.last_ingested_at) as last_ingested_at,
        max(cells.last_pipeline_run) as last_pipeline_run
    from {{ ref('kpi_cell_hourly') }} as cells
    inner join {{ ref('dim_network_element') }} as elements on cells.network_element_id = elements.element_id
    where
        cells.local_date in (select affected.local_date from affected)
        and elements.region_code is not null
    group by 1, 2
),

subscribers as (
    select
        dims.region_code,
        billing.local_date,
        count(*) as active_subscribers,
        sum(billing.total_charge) as revenue,
        sum(billing.data_mb) as subscriber_data_mb,
        max(billing.last_ingested_at) as last_ingested_at,
        max(billing.last_pipeline_run) as last_pipeline_run
    from {{ ref('fct_billing_daily') }} as billing
    inner join {{ ref('dim_subscriber') }} as dims on billing.subscriber_key = dims.subscriber_key
    where billing.local_date in (select affected.local_date from affected)
    group by 1, 2
)

-- Full join: a region's subscribers may be billed on a day none of its cells carried
-- traffic (they roamed to other regions' cells); their revenue still counts.
select
    coalesce(network.region_code, subscribers.region_code) as region_code,
    coalesce(network.local_date, subscribers.local_date) as local_date,
    coalesce(network.call_attempts, 0) as call_attempts,
    coalesce(network.answered_calls, 0) as answered_calls,
    {{ ratio('network.answered_calls', 'network.call_attempts') }} as asr,
    {{ ratio('network.answered_seconds', 'network.answered_calls') }} as acd_seconds,
    {{ ratio('network.dropped_calls', 'network.answered_calls') }} as drop_call_rate,
    coalesce(network.erlang_hours, 0) as erlang_hours,
    coalesce(network.sms_count, 0) as sms_count,
    coalesce(network.data_mb, 0) as data_mb,
    coalesce(subscribers.active_subscribers, 0) as active_subscribers,
    {{ ratio('subscribers.subscriber_data_mb', 'subscribers.active_subscribers') }} as data_mb_per_subscriber,
    coalesce(subscribers.revenue, 0) as revenue,
    {{ ratio('subscribers.revenue', 'subscribers.active_subscribers') }} as arpu,
    greatest(
        coalesce(network.last_ingested_at, subscribers.last_ingested_at),
        coalesce(subscribers.last_ingested_at, network.last_ingested_at)
    ) as last_ingested_at,
    greatest(coalesce(network.last_pipeline_run, 0), coalesce(subscribers.last_pipeline_run, 0)) as last_pipeline_run
from network
full outer join subscribers
    on network.region_code = subscribers.region_code and network.local_date = subscribers.local_date
