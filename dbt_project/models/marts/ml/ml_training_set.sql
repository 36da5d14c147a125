-- Every feature of a (customer, snapshot) with its mature churn label: the rows a model may learn from.
-- The company-invariant features, the behaviour features of the company's event types and its customer
-- attributes, joined on the spine's key (USING keeps one customer_id and snapshot_date, first).
with

features as (

    select * from {{ ref('fct_customer_features') }}

),

behaviour as (

    select * from {{ ref('fct_behaviour_features') }}

),

attributes as (

    select * from {{ ref('fct_attribute_features') }}

),

labels as (

    select customer_id, snapshot_date, churned from {{ ref('fct_churn_labels') }}
    where churned is not null

),

final as (

    select *
    from features
    inner join behaviour using (customer_id, snapshot_date)
    inner join attributes using (customer_id, snapshot_date)
    inner join labels using (customer_id, snapshot_date)

)

select * from final
