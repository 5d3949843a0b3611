select
    subscriber_id,
    msisdn,
    gender,
    birth_date,
    region_code,
    city,
    segment,
    service,
    plan_id,
    activation_date,
    status,
    home_element_id
from {{ source('raw', 'subscribers') }}
