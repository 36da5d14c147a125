-- One row per customer: the latest delivered version of the CRM account.
with

source as (

    select * from {{ source('raw', 'accounts') }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by customer_id
        order by updated_at desc, _batch_date desc, _row_number desc
    ) = 1

),

final as (

    select
        customer_id,
        name as company_name,
        email,
        country,
        segment,
        plan as current_plan,
        signup_date,
        acquisition_channel,
        marketing_consent,
        unsubscribed as is_unsubscribed,
        nullif(trim(account_manager), '') as account_manager,
        onboarding_completed_at as onboarding_completed_on,
        nullif(trim(phone), '') as phone,
        sms_consent,
        push_consent,
        nullif(trim(language), '') as language,
        nullif(trim(time_zone), '') as time_zone,
        updated_at,
        _batch_date as batch_date

    from latest

)

select * from final
