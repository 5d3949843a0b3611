{#-
  Every CDR of the commits not checked before, with its verdict: reject_reason is null for a
  valid record, else the first rule it breaks. The one place the validation rules live.
  pipeline_run numbers the run that checked it: later layers take new rows by run, not by clock.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    properties={"partitioning": "ARRAY['day(ingested_at)']"},
) }}

-- New = from a commit (batch_id) not yet checked: commits land whole, in any order.
with new_rows as (
    select * from {{ ref('stg_cdr') }}
    {% if is_incremental() %}
        where batch_id not in (select distinct checked.batch_id from {{ this }} as checked)
    {% endif %}
),

-- Distinct keys: a duplicated reference row must not multiply the CDRs that join it.
known_elements as (
    select distinct element_id from {{ ref('stg_network_elements') }}
),

known_subscribers as (
    select distinct msisdn from {{ ref('stg_subscribers') }}
),

numbered as (
    select
        new_rows.*,
        row_number()
            over (partition by new_rows.record_id order by new_rows.ingested_at, new_rows.source)
            as copy_number
    from new_rows
),

{% if is_incremental() %}
    already_accepted as (
        select record_id from {{ this }}
        where reject_reason is null
    ),
{% endif %}

checked as (
    select
        numbered.*,
        case
            when
                numbered.record_id is null or numbered.record_type is null or numbered.served_msisdn is null
                or numbered.start_time is null or numbered.network_element_id is null
                then 'missing_field'
            when numbered.record_type not in ('voice', 'sms', 'data')
                then 'corrupt_value'
            when
                numbered.end_time < numbered.start_time
                or numbered.start_time > numbered.ingested_at + interval '{{ var("future_tolerance_hours") }}' hour
                then 'impossible_time'
            when numbered.duration_s < 0 or numbered.bytes_up < 0 or numbered.bytes_down < 0
                then 'corrupt_value'
            when elements.element_id is null or subscribers.msisdn is null
                then 'unknown_reference'
            when
                numbered.copy_number > 1
                {% if is_incremental() %} or accepted.record_id is not null {% endif %}
                then 'duplicate'
        end as reject_reason
    from numbered
    left join known_elements as elements
        on numbered.network_element_id = elements.element_id
    left join known_subscribers as subscribers
        on numbered.served_msisdn = subscribers.msisdn
    {% if is_incremental() %}
        left join already_accepted as accepted
            on numbered.record_id = accepted.record_id
    {% endif %}
)

select
    record_id,
    record_type,
    served_msisdn,
    other_party,
    direction,
    start_time,
    end_time,
    duration_s,
    network_element_id,
    result,
    cause_code,
    bytes_up,
    bytes_down,
    apn,
    roaming,
    ingested_at,
    source,
    batch_id,
    {{ next_pipeline_run() }} as pipeline_run,
    reject_reason
from checked
