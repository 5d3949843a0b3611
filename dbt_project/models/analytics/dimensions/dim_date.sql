with bounds as (
    select
        min({{ local_date('start_time') }}) as first_day,
        max({{ local_date('start_time') }}) as last_day
    from {{ ref('int_cdr_checked') }}
    where reject_reason is null
)

select
    cast(date_format(days.calendar_date, '%Y%m%d') as integer) as date_key,
    days.calendar_date,
    day_of_week(days.calendar_date) as iso_day_of_week,
    format_datetime(days.calendar_date, 'EEEE') as day_name,
    -- The weekend in Algeria is Friday and Saturday.
    day_of_week(days.calendar_date) in (5, 6) as is_weekend,
    month(days.calendar_date) as month_number,
    year(days.calendar_date) as year_number
from bounds
cross join unnest(sequence(bounds.first_day, bounds.last_day, interval '1' day)) as days (calendar_date)
