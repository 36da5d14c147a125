-- The monthly snapshot calendar: first of each month from the first month with enough usage history
-- (or var snapshot_start) up to the as-of date of the data (the latest batch delivered, int_data_as_of).
with

as_of as (

    select as_of_date from {{ ref('int_data_as_of') }}

),

first_usage as (

    select min(activity_date) as first_usage_date from {{ ref('int_usage_daily') }}

),

bounds as (

    select
        as_of.as_of_date,
        {%- if var('snapshot_start', none) %}
        cast({{ dbt.date_trunc('month', "cast('" ~ var('snapshot_start') ~ "' as date)") }} as date)
            as first_snapshot_date
        {%- else %}
        -- the first month start S with S - first usage day >= min_usage_history_days
        cast(
            {{ dbt.dateadd(
                'month',
                1,
                dbt.date_trunc(
                    'month',
                    dbt.dateadd('day', var('min_usage_history_days') - 1, 'first_usage.first_usage_date')
                )
            ) }}
            as date
        ) as first_snapshot_date
        {%- endif %}

    from as_of
    cross join first_usage

),

-- month offsets 0, 1, 2, ... (100 years of monthly snapshots at most)
month_offsets as (

    select generated_number - 1 as month_offset
    from ({{ dbt.generate_series(1200) }}) as series

),

calendar as (

    select
        cast({{ dbt.dateadd('month', 'month_offsets.month_offset', 'bounds.first_snapshot_date') }} as date)
            as snapshot_date,
        bounds.as_of_date

    from bounds
    cross join month_offsets

),

final as (

    select
        snapshot_date,
        as_of_date,
        snapshot_date = max(snapshot_date) over () as is_latest_snapshot,
        cast({{ dbt.dateadd('day', var('churn_horizon_days'), 'snapshot_date') }} as date) as label_horizon_end,
        cast({{ dbt.dateadd('day', var('churn_horizon_days'), 'snapshot_date') }} as date) <= as_of_date
            as is_label_mature

    from calendar
    where snapshot_date <= as_of_date

)

select * from final
