-- Features with their mature churn label: the rows a model may learn from.
with

features as (

    select * from {{ ref('fct_customer_features') }}

),

labels as (

    select customer_id, snapshot_date, churned from {{ ref('fct_churn_labels') }}
    where churned is not null

),

final as (

    select
        features.*,
        labels.churned

    from features
    inner join labels
        on features.customer_id = labels.customer_id
        and features.snapshot_date = labels.snapshot_date

)

select * from final
