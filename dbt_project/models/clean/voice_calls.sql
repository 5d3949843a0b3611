{{ config(
    materialized='incremental',
    incremental_strategy='append',
    properties={"partitioning": "ARRAY['day(start_time)']"},
) }}

select
    record_id,
    {{ pseudonymize('served_msisdn') }} as subscriber_key,
    {{ pseudonymize('other_party') }} as other_party_key,
    direction,
    start_time,
    end_time,
    duration_s,
    network_element_id,
    result,
    cause_code,
    result in ('answered', 'dropped') as is_answered,
    result = 'dropped' as is_dropped,
    roaming,
    ingested_at,
    pipeline_run,
    source,
    batch_id
from {{ ref('int_cdr_checked') }}
where
    reject_reason is null
    and record_type = 'voice'
    and {{ in_new_runs() }}
