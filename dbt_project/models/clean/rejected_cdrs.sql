{#- Rejected CDRs with their reason; identifiers pseudonymised like everything past raw. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    properties={"partitioning": "ARRAY['day(ingested_at)']"},
) }}

select
    record_id,
    reject_reason,
    record_type,
    {{ pseudonymize('served_msisdn') }} as subscriber_key,
    start_time,
    end_time,
    duration_s,
    network_element_id,
    result,
    bytes_up,
    bytes_down,
    ingested_at,
    pipeline_run,
    source,
    batch_id
from {{ ref('int_cdr_checked') }}
where
    reject_reason is not null
    and {{ in_new_runs() }}
