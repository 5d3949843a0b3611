select * from {{ ref('stg_network_elements') }}
