-- Features of every active customer at the latest snapshot: the rows to score now.
with

latest_snapshot as (

    select snapshot_date from {{ ref('int_snapshot_dates') }}
    where is_latest_snapshot

),

features as (

    select * from {{ ref('fct_customer_features') }}

),

final as (

    select features.*
    from features
    inner join latest_snapshot on features.snapshot_date = latest_snapshot.snapshot_date

)

select * from final
