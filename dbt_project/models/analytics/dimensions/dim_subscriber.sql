select
    subscribers.subscriber_key,
    subscribers.gender,
    subscribers.age_band,
    subscribers.region_code,
    regions.region_name,
    subscribers.city,
    subscribers.segment,
    subscribers.service,
    subscribers.plan_id,
    plans.plan_name,
    subscribers.activation_date,
    subscribers.status,
    subscribers.home_element_id
from {{ ref('subscribers') }} as subscribers
left join {{ ref('regions') }} as regions on subscribers.region_code = regions.region_code
left join {{ ref('tariff_plans') }} as plans on subscribers.plan_id = plans.plan_id
