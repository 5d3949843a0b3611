{{ config(
    materialized='incremental',
    incremental_strategy='append',
    properties={"partitioning": "ARRAY['day(start_time)']"},
) }}

select
    record_id,
    {{ pseudonymize('served_msisdn') }} as subscriber_key,
    start_time,
    end_time,
    duration_s,
    network_element_id,
    result,
    cause_code,
    coalesce(bytes_up, 0) as bytes_up,
    coalesce(bytes_down, 0) as bytes_down,
    apn,
    roaming,
    ingested_at,
    pipeline_run,
    source,
    batch_id
from {{ ref('int_cdr_checked') }}
where
    reject_reason is null
    and record_type = 'data'
    and {{ in_new_runs() }}
