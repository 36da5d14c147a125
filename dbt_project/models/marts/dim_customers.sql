-- One row per customer as of the latest data: who they are, what they pay now, whether they left.
with

accounts as (

    select * from {{ ref('stg_accounts') }}

),

periods as (

    select * from {{ ref('int_subscription_periods') }}

),

latest_period as (

    select *
    from periods
    qualify row_number() over (partition by customer_id order by start_date desc, subscription_id desc) = 1

),

cancellations as (

    select customer_id, min(cancel_date) as cancel_date
    from periods
    where is_cancelled
    group by customer_id

),

final as (

    select
        cast(accounts.customer_id as varchar) as customer_id,
        cast(accounts.company_name as varchar) as company_name,
        cast(accounts.country as varchar) as country,
        cast(accounts.segment as varchar) as segment,
        cast(coalesce(latest_period.plan, accounts.current_plan) as varchar) as plan,
        cast(accounts.acquisition_channel as varchar) as acquisition_channel,
        cast(accounts.signup_date as date) as signup_date,
        cast(accounts.account_manager as varchar) as account_manager,
        cast(accounts.account_manager is not null as boolean) as has_account_manager,
        cast(accounts.onboarding_completed_on as date) as onboarding_completed_on,
        cast(accounts.marketing_consent as boolean) as marketing_consent,
        cast(accounts.is_unsubscribed as boolean) as is_unsubscribed,
        cast(accounts.email as varchar) as email,
        cast(accounts.phone as varchar) as phone,
        cast(accounts.sms_consent as boolean) as sms_consent,
        cast(accounts.push_consent as boolean) as push_consent,
        cast(accounts.language as varchar) as language,
        cast(accounts.time_zone as varchar) as time_zone,
        cast(case when cancellations.cancel_date is null then latest_period.mrr else 0 end as double)
            as current_mrr,
        cast(cancellations.cancel_date as date) as cancel_date,
        cast(cancellations.cancel_date is not null as boolean) as is_churned

    from accounts
    left join latest_period on accounts.customer_id = latest_period.customer_id
    left join cancellations on accounts.customer_id = cancellations.customer_id

)

select * from final
