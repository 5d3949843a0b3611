select
    hour_of_day,
    case
        when hour_of_day < 6 then 'night'
        when hour_of_day < 12 then 'morning'
        when hour_of_day < 18 then 'afternoon'
        else 'evening'
    end as day_period,
    hour_of_day between 9 and 16 as is_office_hours
from unnest(sequence(0, 23)) as hours (hour_of_day)
