-- One row per customer as of the latest data: who they are, how to reach them, what they pay now, whether
-- they have left (no running spell) and the as-of date of the data (the latest batch delivered).
with

accounts as (

    select * from {{ ref('stg_accounts') }}

),

periods as (

    select * from {{ ref('int_subscription_periods') }}

),

spells as (

    select * from {{ ref('int_subscription_spells') }}

),

as_of as (

    select as_of_date from {{ ref('int_data_as_of') }}

),

ranked_periods as (

    select
        periods.*,
        row_number() over (partition by customer_id order by start_date desc, subscription_id desc) as recency_rank

    from periods

),

latest_period as (

    select * from ranked_periods where recency_rank = 1

),

ranked_spells as (

    select
        spells.*,
        count(*) over (partition by customer_id) as spell_count,
        row_number() over (partition by customer_id order by spell_number desc) as recency_rank

    from spells

),

latest_spell as (

    select * from ranked_spells where recency_rank = 1

),

final as (

    select
        cast(accounts.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(accounts.company_name as {{ dbt.type_string() }}) as company_name,
        cast(accounts.country as {{ dbt.type_string() }}) as country,
        cast(accounts.segment as {{ dbt.type_string() }}) as segment,
        cast(coalesce(latest_period.plan, accounts.current_plan) as {{ dbt.type_string() }}) as plan,
        cast(accounts.acquisition_channel as {{ dbt.type_string() }}) as acquisition_channel,
        cast(accounts.signup_date as date) as signup_date,
        cast(accounts.account_manager as {{ dbt.type_string() }}) as account_manager,
        cast(accounts.account_manager is not null as {{ dbt.type_boolean() }}) as has_account_manager,
        cast(accounts.onboarding_completed_on as date) as onboarding_completed_on,
        cast(accounts.marketing_consent as {{ dbt.type_boolean() }}) as marketing_consent,
        cast(accounts.is_unsubscribed as {{ dbt.type_boolean() }}) as is_unsubscribed,
        cast(accounts.email as {{ dbt.type_string() }}) as email,
        cast(accounts.phone as {{ dbt.type_string() }}) as phone,
        cast(accounts.sms_consent as {{ dbt.type_boolean() }}) as sms_consent,
        cast(accounts.push_consent as {{ dbt.type_boolean() }}) as push_consent,
        cast(accounts.language as {{ dbt.type_string() }}) as language,
        cast(accounts.time_zone as {{ dbt.type_string() }}) as time_zone,
        cast(
            case when latest_spell.spell_end_date is null then latest_period.mrr else 0 end
            as {{ type_double() }}
        ) as current_mrr,
        cast(latest_spell.spell_end_date as date) as cancel_date,
        cast(latest_spell.spell_end_date is not null as {{ dbt.type_boolean() }}) as is_churned,
        cast(coalesce(latest_spell.spell_count, 0) as {{ dbt.type_int() }}) as spells,
        cast(as_of.as_of_date as date) as as_of_date

    from accounts
    cross join as_of
    left join latest_period on accounts.customer_id = latest_period.customer_id
    left join latest_spell on accounts.customer_id = latest_spell.customer_id

)

select * from final
