{#- Subscribers with a keyed pseudonym instead of the number; no names, birth date -> age band. -#}
select
    {{ pseudonymize('msisdn') }} as subscriber_key,
    gender,
    case
        when date_diff('year', birth_date, current_date) < 25 then '18-24'
        when date_diff('year', birth_date, current_date) < 35 then '25-34'
        when date_diff('year', birth_date, current_date) < 50 then '35-49'
        when date_diff('year', birth_date, current_date) < 65 then '50-64'
        else '65+'
    end as age_band,
    region_code,
    city,
    segment,
    service,
    plan_id,
    activation_date,
    status,
    home_element_id
from {{ ref('stg_subscribers') }}
