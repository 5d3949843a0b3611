select
    region_code,
    region_name,
    population,
    fixed_area_code
from {{ source('raw', 'regions') }}
