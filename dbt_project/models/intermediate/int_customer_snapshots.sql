-- The spine: one row per customer per snapshot date at which the customer was active, i.e. signed up
-- before the snapshot and not cancelled before it. Every feature and label is keyed on it.
with

accounts as (

    select customer_id, signup_date from {{ ref('stg_accounts') }}

),

cancellations as (

    select customer_id, min(cancel_date) as cancel_date
    from {{ ref('stg_subscriptions') }}
    where cancel_date is not null
    group by customer_id

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

final as (

    select
        accounts.customer_id,
        snapshot_dates.snapshot_date,
        snapshot_dates.as_of_date,
        snapshot_dates.is_latest_snapshot

    from accounts
    cross join snapshot_dates
    left join cancellations on accounts.customer_id = cancellations.customer_id
    where accounts.signup_date < snapshot_dates.snapshot_date
      and (cancellations.cancel_date is null or cancellations.cancel_date >= snapshot_dates.snapshot_date)

)

select * from final
