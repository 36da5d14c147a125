-- Subscription periods with MRR, in order per customer, flagging plan changes and numbering the active spell
-- each belongs to: a spell starts with a customer's first period or the first period after a cancellation.
with

subscriptions as (

    select * from {{ ref('stg_subscriptions') }}

),

ordered as (

    select
        subscriptions.*,
        row_number() over (partition by customer_id order by start_date, subscription_id) as period_number,
        lag(mrr) over (partition by customer_id order by start_date, subscription_id) as previous_mrr,
        lead(start_date) over (partition by customer_id order by start_date, subscription_id) as next_start_date,
        -- cancellations among the periods before this one: each closed a spell
        coalesce(
            sum(case when cancel_date is not null then 1 else 0 end) over (
                partition by customer_id
                order by start_date, subscription_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as spells_closed_before

    from subscriptions

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
        cast(period_number as {{ dbt.type_int() }}) as period_number,
        previous_mrr,
        next_start_date,
        cast(spells_closed_before + 1 as {{ dbt.type_int() }}) as spell_number

    from ordered

)

select * from final
