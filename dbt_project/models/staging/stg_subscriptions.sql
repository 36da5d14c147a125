-- One row per subscription period: the latest delivered version.
with

source as (

    select * from {{ source('raw', 'subscriptions') }}

),

ranked as (

    select
        source.*,
        row_number() over (
            partition by subscription_id
            order by updated_at desc, _batch_date desc, _row_number desc
        ) as version_rank

    from source

),

final as (

    select
        subscription_id,
        customer_id,
        plan,
        mrr,
        change_type,
        start_date,
        end_date,
        cancel_date,
        updated_at,
        _batch_date as batch_date

    from ranked
    where version_rank = 1

)

select * from final
