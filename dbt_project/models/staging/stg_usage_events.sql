-- One row per product event. Events are append-only, so a repeated event_id is a re-delivery of the
-- same event: the copy from the latest batch is kept.
with

source as (

    select * from {{ source('raw', 'usage_events') }}

),

ranked as (

    select
        source.*,
        row_number() over (partition by event_id order by _batch_date desc, _row_number desc) as copy_rank

    from source

),

final as (

    select
        event_id,
        customer_id,
        event_ts,
        cast(event_ts as date) as event_date,
        event_type,
        feature,
        duration_seconds,
        value,
        _batch_date as batch_date

    from ranked
    where copy_rank = 1

)

select * from final
