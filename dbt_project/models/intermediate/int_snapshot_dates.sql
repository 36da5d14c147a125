-- The monthly snapshot calendar: first of each month from the first month with enough usage history
-- (or var snapshot_start) up to the as-of date of the data (the latest batch delivered).
with

batches as (

    -- Delivery metadata rather than business rows, so it is read from raw directly: one date column,
    -- without paying for the staging de-duplication of the events.
    {%- for table in ['accounts', 'subscriptions', 'invoices', 'usage_events', 'support_tickets', 'nps_responses'] %}
    select max(_batch_date) as batch_date from {{ source('raw', table) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

as_of as (

    select max(batch_date) as as_of_date from batches

),

first_usage as (

    select min(activity_date) as first_usage_date from {{ ref('int_usage_daily') }}

),

bounds as (

    select
        as_of.as_of_date,
        {%- if var('snapshot_start', none) %}
        cast(date_trunc('month', cast('{{ var("snapshot_start") }}' as date)) as date) as first_snapshot_date
        {%- else %}
        -- the first month start S with S - first usage day >= min_usage_history_days
        cast(
            date_trunc(
                'month',
                first_usage.first_usage_date + {{ var('min_usage_history_days') }} - 1
            ) + interval 1 month
            as date
        ) as first_snapshot_date
        {%- endif %}

    from as_of
    cross join first_usage

),

calendar as (

    select
        cast(unnest(generate_series(first_snapshot_date, as_of_date, interval 1 month)) as date)
            as snapshot_date,
        as_of_date

    from bounds
    where first_snapshot_date <= as_of_date

),

final as (

    select
        snapshot_date,
        as_of_date,
        snapshot_date = max(snapshot_date) over () as is_latest_snapshot,
        snapshot_date + {{ var('churn_horizon_days') }} as label_horizon_end,
        snapshot_date + {{ var('churn_horizon_days') }} <= as_of_date as is_label_mature

    from calendar

)

select * from final
