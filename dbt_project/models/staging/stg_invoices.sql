-- One row per invoice: the latest delivered version (its settled payment status).
with

source as (

    select * from {{ source('raw', 'invoices') }}

),

ranked as (

    select
        source.*,
        row_number() over (
            partition by invoice_id
            order by updated_at desc, _batch_date desc, _row_number desc
        ) as version_rank

    from source

),

final as (

    select
        invoice_id,
        customer_id,
        subscription_id,
        issued_date,
        due_date,
        amount,
        paid_date,
        status,
        failed_attempts,
        updated_at,
        _batch_date as batch_date

    from ranked
    where version_rank = 1

)

select * from final
