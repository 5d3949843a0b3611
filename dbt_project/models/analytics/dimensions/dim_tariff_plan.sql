select * from {{ ref('int_tariff_plans') }}
