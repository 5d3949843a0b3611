select
    element_id,
    element_type,
    technology,
    site_id,
    region_code,
    city,
    latitude,
    longitude,
    capacity_erlangs
from {{ source('raw', 'network_elements') }}
