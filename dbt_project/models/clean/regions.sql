select * from {{ ref('stg_regions') }}
