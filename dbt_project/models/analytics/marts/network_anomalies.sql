{#-
  Cell-hours that deviate from the cell's own baseline: the same local hour on the other days.
  traffic_drop: under 40% of the usual events (outage); failure_spike: the failure rate of call
  and SMS attempts 15 points or more above the usual (congestion fails signalling, while data
  sessions only slow down). Hours without any event count as zero traffic.
-#}
with cells as (
    select element_id from {{ ref('dim_network_element') }}
    where element_type = 'cell'
),

hours as (
    select distinct
        hour_start,
        local_date,
        local_hour
    from {{ ref('kpi_cell_hourly') }}
),

grid as (
    select
        cells.element_id as network_element_id,
        hours.hour_start,
        hours.local_date,
        hours.local_hour,
        coalesce(kpi.call_attempts + kpi.sms_count + kpi.data_sessions, 0) as events,
        coalesce(kpi.call_attempts + kpi.sms_count, 0) as attempts,
        coalesce(kpi.failed_calls + kpi.failed_sms, 0) as failures
    from cells
    cross join hours
    left join {{ ref('kpi_cell_hourly') }} as kpi
        on cells.element_id = kpi.network_element_id and hours.hour_start = kpi.hour_start
),

baselines as (
    select
        grid.*,
        {{ ratio('failures', 'attempts') }} as failure_rate,
        (sum(grid.events) over same_hour - grid.events) / nullif(count(*) over same_hour - 1, 0) as baseline_events,
        {{ ratio('sum(failures) over same_hour - failures', 'sum(attempts) over same_hour - attempts') }}
            as baseline_failure_rate
    from grid
    window same_hour as (partition by network_element_id, local_hour)
),

flagged as (
    select
        *,
        case
            when baseline_events >= 10 and events < 0.4 * baseline_events then 'traffic_drop'
            when attempts >= 10 and failures >= 5 and failure_rate > coalesce(baseline_failure_rate, 0) + 0.15
                then 'failure_spike'
        end as anomaly_type
    from baselines
)

select
    network_element_id,
    hour_start,
    local_date,
    local_hour,
    anomaly_type,
    events,
    baseline_events,
    attempts,
    failures,
    failure_rate,
    baseline_failure_rate
from flagged
where anomaly_type is not null
