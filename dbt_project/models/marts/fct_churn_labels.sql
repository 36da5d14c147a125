-- The churn label of every customer at every snapshot: cancelled within the horizon after it.
-- Null while the horizon has not fully passed by the as-of date of the data, so an immature
-- snapshot is never mistaken for "stayed".
with

spine as (

    select * from {{ ref('int_customer_snapshots') }}

),

cancellations as (

    select customer_id, min(cancel_date) as cancel_date
    from {{ ref('int_subscription_periods') }}
    where is_cancelled
    group by customer_id

),

labelled as (

    select
        spine.customer_id,
        spine.snapshot_date,
        {{ var('churn_horizon_days') }} as horizon_days,
        spine.snapshot_date + {{ var('churn_horizon_days') }} as horizon_end,
        spine.snapshot_date + {{ var('churn_horizon_days') }} <= spine.as_of_date as is_mature,
        cancellations.cancel_date

    from spine
    left join cancellations on spine.customer_id = cancellations.customer_id

),

final as (

    select
        cast(customer_id as varchar) as customer_id,
        cast(snapshot_date as date) as snapshot_date,
        cast(horizon_days as integer) as horizon_days,
        cast(horizon_end as date) as horizon_end,
        cast(is_mature as boolean) as is_mature,
        cast(
            case
                when is_mature
                    then coalesce(cancel_date >= snapshot_date and cancel_date < horizon_end, false)
            end
            as boolean
        ) as churned,
        cast(case when is_mature and cancel_date < horizon_end then cancel_date end as date) as churn_date

    from labelled

)

select * from final
