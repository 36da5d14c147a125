-- Every feature of every active customer at the latest snapshot: the rows to score now. Same columns as
-- ml_training_set without the label.
with

latest_snapshot as (

    select snapshot_date from {{ ref('int_snapshot_dates') }}
    where is_latest_snapshot

),

features as (

    select * from {{ ref('fct_customer_features') }}
    where snapshot_date in (select snapshot_date from latest_snapshot)

),

behaviour as (

    select * from {{ ref('fct_behaviour_features') }}
    where snapshot_date in (select snapshot_date from latest_snapshot)

),

attributes as (

    select * from {{ ref('fct_attribute_features') }}
    where snapshot_date in (select snapshot_date from latest_snapshot)

),

final as (

    select *
    from features
    inner join behaviour using (customer_id, snapshot_date)
    inner join attributes using (customer_id, snapshot_date)

)

select * from final
