-- Every delivered version of every CRM account, renamed and typed, with the company's extra attributes
-- (var customer_attributes; quoted, as a name may be an SQL keyword) passed through. Two deliveries with the
-- same updated_at are one version: the copy from the latest batch is kept. Point-in-time features read these
-- versions (int_account_versions).
with

source as (

    select * from {{ source('raw', 'accounts') }}

),

ranked as (

    select
        source.*,
        row_number() over (
            partition by customer_id, updated_at
            order by _batch_date desc, _row_number desc
        ) as copy_rank

    from source

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
        {%- for attribute in var('customer_attributes') %}
        {{ adapter.quote(attribute['name']) }},
        {%- endfor %}
        updated_at,
        _batch_date as batch_date

    from ranked
    where copy_rank = 1

)

select * from final
