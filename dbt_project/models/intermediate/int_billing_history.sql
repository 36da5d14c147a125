-- Invoices with their payment outcome and the subscription period they bill.
-- is_late does not depend on when it is looked at once the due date has passed (paid after the due
-- date, or still unpaid), so counting it for due dates before a snapshot is point-in-time safe.
with

invoices as (

    select * from {{ ref('stg_invoices') }}

),

periods as (

    select subscription_id, plan, mrr, change_type from {{ ref('int_subscription_periods') }}

),

final as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.subscription_id,
        periods.plan,
        periods.mrr as period_mrr,
        invoices.issued_date,
        invoices.due_date,
        invoices.paid_date,
        invoices.amount,
        invoices.status,
        invoices.failed_attempts,
        (invoices.paid_date is null or invoices.paid_date > invoices.due_date) as is_late,
        (invoices.failed_attempts > 0 or invoices.status = 'failed') as is_failed,
        {{ dbt.datediff('invoices.due_date', 'invoices.paid_date', 'day') }} as days_paid_after_due

    from invoices
    left join periods on invoices.subscription_id = periods.subscription_id

)

select * from final
