{#-
  How well the detectors find what the generator injected (raw_truth.incidents):
  precision per anomaly type - the share of flagged cell-hours that an incident touches;
  recall per incident type - the share of incident cell-hours found, counting an hour when the
  incident covers at least `score_min_hour_cover` of it (a ten-minute outage in an hour is not
  a visible drop of that hour). The SIM-box detector is scored on lines the same way.
-#}
with truth as (
    select
        incident_type,
        element_id,
        start_time,
        end_time,
        msisdn
    from {{ source('raw_truth', 'incidents') }}
),

cells as (
    select element_id from {{ ref('dim_network_element') }}
    where element_type = 'cell'
),

hours as (
    select distinct hour_start from {{ ref('kpi_cell_hourly') }}
),

incident_hours as (
    select
        truth.incident_type,
        truth.element_id as network_element_id,
        hours.hour_start,
        max(
            date_diff(
                'millisecond',
                greatest(truth.start_time, hours.hour_start),
                least(truth.end_time, hours.hour_start + interval '1' hour)
            )
        ) / 3600000e0 as cover
    from truth
    inner join cells on truth.element_id = cells.element_id
    inner join hours
        on truth.end_time > hours.hour_start and hours.hour_start + interval '1' hour > truth.start_time
    where truth.incident_type <> 'simbox'
    group by truth.incident_type, truth.element_id, hours.hour_start
),

flags as (
    select
        anomalies.anomaly_type,
        count(incident_hours.network_element_id) > 0 as is_real
    from {{ ref('network_anomalies') }} as anomalies
    left join incident_hours
        on
            anomalies.network_element_id = incident_hours.network_element_id
            and anomalies.hour_start = incident_hours.hour_start
    group by anomalies.network_element_id, anomalies.hour_start, anomalies.anomaly_type
),

found as (
    select
        incident_hours.incident_type,
        count(anomalies.anomaly_type) > 0 as is_found
    from incident_hours
    left join {{ ref('network_anomalies') }} as anomalies
        on
            incident_hours.network_element_id = anomalies.network_element_id
            and incident_hours.hour_start = anomalies.hour_start
    where incident_hours.cover >= {{ var('score_min_hour_cover') }}
    group by incident_hours.incident_type, incident_hours.network_element_id, incident_hours.hour_start
),

ring as (
    select distinct {{ pseudonymize('msisdn') }} as subscriber_key
    from truth
    where incident_type = 'simbox'
),

suspects as (
    select
        suspects.subscriber_key,
        ring.subscriber_key is not null as is_real
    from {{ ref('simbox_suspects') }} as suspects
    left join ring on suspects.subscriber_key = ring.subscriber_key
),

scores as (
    select
        'precision' as metric,
        anomaly_type as type_name,
        'cell_hour' as unit,
        count(*) as scored,
        count_if(is_real) as matched
    from flags
    group by anomaly_type
    union all
    select
        'precision' as metric,
        'all' as type_name,
        'cell_hour' as unit,
        count(*) as scored,
        count_if(is_real) as matched
    from flags
    union all
    select
        'recall' as metric,
        incident_type as type_name,
        'cell_hour' as unit,
        count(*) as scored,
        count_if(is_found) as matched
    from found
    group by incident_type
    union all
    select
        'recall' as metric,
        'all' as type_name,
        'cell_hour' as unit,
        count(*) as scored,
        count_if(is_found) as matched
    from found
    union all
    select
        'precision' as metric,
        'simbox' as type_name,
        'line' as unit,
        count(*) as scored,
        count_if(is_real) as matched
    from suspects
    union all
    select
        'recall' as metric,
        'simbox' as type_name,
        'line' as unit,
        count(*) as scored,
        count_if(suspects.subscriber_key is not null) as matched
    from ring
    left join suspects on ring.subscriber_key = suspects.subscriber_key
)

select
    metric,
    type_name,
    unit,
    scored,
    matched,
    cast(matched as double) / nullif(scored, 0) as score
from scores
