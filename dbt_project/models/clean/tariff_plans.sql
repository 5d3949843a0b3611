select * from {{ ref('stg_tariff_plans') }}
