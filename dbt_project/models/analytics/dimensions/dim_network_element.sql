{#- Cell / access node -> site -> region. Visited networks (roaming) have no region. -#}
select
    elements.element_id,
    elements.element_type,
    elements.technology,
    elements.site_id,
    elements.city,
    elements.region_code,
    regions.region_name,
    elements.latitude,
    elements.longitude,
    elements.capacity_erlangs
from {{ ref('network_elements') }} as elements
left join {{ ref('regions') }} as regions on elements.region_code = regions.region_code
