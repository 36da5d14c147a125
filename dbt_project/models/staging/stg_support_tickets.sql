-- One row per support ticket: the latest delivered version (resolved, escalated, rated).
with

source as (

    select * from {{ source('raw', 'support_tickets') }}

),

ranked as (

    select
        source.*,
        row_number() over (
            partition by ticket_id
            order by updated_at desc, _batch_date desc, _row_number desc
        ) as version_rank

    from source

),

final as (

    select
        ticket_id,
        customer_id,
        opened_at,
        resolved_at,
        priority,
        category,
        escalated as is_escalated,
        satisfaction,
        updated_at,
        _batch_date as batch_date

    from ranked
    where version_rank = 1

)

select * from final
