-- The churn label of every customer at every snapshot: the active spell at the snapshot ends (is cancelled)
-- within the horizon after it. Null while the horizon has not fully passed by the as-of date of the data,
-- so an immature snapshot is never mistaken for "stayed". A customer who comes back later starts a new
-- spell, with labels of its own.
with

spine as (

    select * from {{ ref('int_customer_snapshots') }}

),

labelled as (

    select
        customer_id,
        snapshot_date,
        spell_number,
        spell_end_date,
        {{ var('churn_horizon_days') }} as horizon_days,
        cast({{ dbt.dateadd('day', var('churn_horizon_days'), 'snapshot_date') }} as date) as horizon_end,
        as_of_date

    from spine

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(snapshot_date as date) as snapshot_date,
        cast(spell_number as {{ dbt.type_int() }}) as spell_number,
        cast(horizon_days as {{ dbt.type_int() }}) as horizon_days,
        cast(horizon_end as date) as horizon_end,
        cast(horizon_end <= as_of_date as {{ dbt.type_boolean() }}) as is_mature,
        cast(
            case
                when horizon_end <= as_of_date
                    then coalesce(spell_end_date >= snapshot_date and spell_end_date < horizon_end, false)
            end
            as {{ dbt.type_boolean() }}
        ) as churned,
        cast(
            case when horizon_end <= as_of_date and spell_end_date < horizon_end then spell_end_date end
            as date
        ) as churn_date

    from labelled

)

select * from final
