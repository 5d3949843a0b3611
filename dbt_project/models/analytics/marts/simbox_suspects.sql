{#-
  Lines that behave like a SIM-box (a gateway that turns international calls into local ones):
  many outgoing calls a day to ever new numbers, almost none incoming, from very few cells.
  Ordinary heavy callers ring the same contacts again and get called back. Thresholds are the
  `simbox_*` vars in dbt_project.yml.
-#}
with calls as (
    select
        subscriber_key,
        other_party_key,
        direction,
        network_element_id
    from {{ ref('voice_calls') }}
),

window_days as (
    select count(distinct {{ local_date('start_time') }}) as days from {{ ref('voice_calls') }}
),

lines as (
    select
        subscriber_key,
        count_if(direction = 'MO') as outgoing_calls,
        count_if(direction = 'MT') as incoming_calls,
        count(distinct case when direction = 'MO' then other_party_key end) as distinct_callees,
        count(distinct case when direction = 'MO' then network_element_id end) as cells
    from calls
    group by subscriber_key
)

select
    lines.subscriber_key,
    lines.outgoing_calls,
    lines.incoming_calls,
    lines.distinct_callees,
    lines.cells,
    cast(lines.outgoing_calls as double) / window_days.days as outgoing_calls_per_day
from lines
cross join window_days
where
    cast(lines.outgoing_calls as double) / window_days.days >= {{ var('simbox_min_calls_per_day') }}
    and lines.distinct_callees >= {{ var('simbox_min_distinct_share') }} * lines.outgoing_calls
    and lines.incoming_calls <= {{ var('simbox_max_incoming_share') }} * lines.outgoing_calls
    and lines.cells <= {{ var('simbox_max_cells') }}
