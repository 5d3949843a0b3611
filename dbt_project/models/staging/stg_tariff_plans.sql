select
    plan_id,
    plan_name,
    segment,
    service,
    monthly_fee,
    price_per_minute,
    price_per_sms,
    price_per_mb,
    currency
from {{ source('raw', 'tariff_plans') }}
