-- The as-of date of the data: the latest batch delivered in any source the company delivers (var
-- delivered_sources; a source it does not deliver is an empty raw table and says nothing). One row.
with

batches as (

    -- Delivery metadata rather than business rows, so it is read from raw directly: one date column,
    -- without paying for the staging de-duplication of the events.
    {%- for table in var('delivered_sources') %}
    select max(_batch_date) as batch_date from {{ source('raw', table) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select max(batch_date) as as_of_date from batches

)

select * from final
