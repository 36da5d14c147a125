-- One row per NPS survey response; a re-delivered response keeps its latest copy.
with

source as (

    select * from {{ source('raw', 'nps_responses') }}

),

ranked as (

    select
        source.*,
        row_number() over (partition by response_id order by _batch_date desc, _row_number desc) as copy_rank

    from source

),

final as (

    select
        response_id,
        customer_id,
        responded_at,
        score,
        nullif(trim(comment), '') as comment,
        _batch_date as batch_date

    from ranked
    where copy_rank = 1

)

select * from final
