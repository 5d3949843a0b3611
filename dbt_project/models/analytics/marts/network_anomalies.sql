{#-
  Cell-hours that deviate from the cell's own baseline, by two tests that both need the deviation
  to be large and statistically clear (thresholds are vars in dbt_project.yml, `anomaly_*`):
  traffic_drop: events under `anomaly_drop_ratio` of the usual and more than
  `anomaly_drop_sigmas` Poisson deviations below it (an outage hands most traffic to neighbours);
  failure_spike: the failure rate of call and SMS attempts `anomaly_failure_points` above the
  cell's typical rate and `anomaly_failure_sigmas` binomial deviations over the failures expected
  (congestion fails signalling, while data sessions only slow down).
  Baselines are robust, so that the incidents themselves (and the New Year spike on every cell)
  do not pull them: the usual events are the median of the same local hour over the days of the
  window, the typical failure rate the attempt-weighted median of the cell's hourly rates.
  Hours without any event count as zero traffic.
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

ranked_hours as (
    select
        network_element_id,
        local_hour,
        events,
        row_number() over same_hour as position,
        count(*) over (partition by network_element_id, local_hour) as days
    from grid
    window same_hour as (partition by network_element_id, local_hour order by events, hour_start)
),

usual_events as (
    -- The median: the middle value, or the mean of the two middle ones.
    select
        network_element_id,
        local_hour,
        avg(events) as baseline_events
    from ranked_hours
    where position between floor((days + 1) / 2e0) and ceiling((days + 1) / 2e0)
    group by network_element_id, local_hour
),

hourly_rates as (
    select
        network_element_id,
        {{ ratio('failures', 'attempts') }} as failure_rate,
        sum(attempts) over by_rate as attempts_up_to_here,
        sum(attempts) over (partition by network_element_id) as all_attempts
    from grid
    where attempts > 0
    window by_rate as (
        partition by network_element_id order by {{ ratio('failures', 'attempts') }}, hour_start
        rows between unbounded preceding and current row
    )
),

typical_failure as (
    select
        network_element_id,
        min(failure_rate) as baseline_failure_rate
    from hourly_rates
    where attempts_up_to_here >= all_attempts / 2e0
    group by network_element_id
),

baselines as (
    select
        grid.*,
        usual_events.baseline_events,
        coalesce(typical_failure.baseline_failure_rate, 0e0) as baseline_failure_rate,
        {{ ratio('grid.failures', 'grid.attempts') }} as failure_rate
    from grid
    inner join usual_events
        on
            grid.network_element_id = usual_events.network_element_id
            and grid.local_hour = usual_events.local_hour
    left join typical_failure on grid.network_element_id = typical_failure.network_element_id
),

flagged as (
    select
        *,
        case
            when
                baseline_events >= {{ var('anomaly_min_baseline_events') }}
                and events < {{ var('anomaly_drop_ratio') }} * baseline_events
                and baseline_events - events > {{ var('anomaly_drop_sigmas') }} * sqrt(baseline_events)
                then 'traffic_drop'
            when
                attempts >= {{ var('anomaly_min_attempts') }}
                and failures >= {{ var('anomaly_min_failures') }}
                and failure_rate > baseline_failure_rate + {{ var('anomaly_failure_points') }}
                and failures - attempts * baseline_failure_rate > {{ var('anomaly_failure_sigmas') }}
                * greatest(sqrt(attempts * baseline_failure_rate * (1 - baseline_failure_rate)), 0.5)
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
