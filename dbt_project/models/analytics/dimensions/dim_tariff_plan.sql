select * from {{ ref('tariff_plans') }}
