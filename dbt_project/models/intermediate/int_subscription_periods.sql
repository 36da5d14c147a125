-- Subscription periods with MRR, in order per customer, flagging plan changes.
with

subscriptions as (

    select * from {{ ref('stg_subscriptions') }}

),

final as (

    select
        subscription_id,
        customer_id,
        plan,
        mrr,
        change_type,
        change_type = 'downgrade' as is_downgrade,
        change_type = 'upgrade' as is_upgrade,
        start_date,
        end_date,
        cancel_date,
        cancel_date is not null as is_cancelled,
        row_number() over (partition by customer_id order by start_date, subscription_id) as period_number,
        lag(mrr) over (partition by customer_id order by start_date, subscription_id) as previous_mrr

    from subscriptions

)

select * from final
