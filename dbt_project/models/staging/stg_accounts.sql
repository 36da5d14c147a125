-- One row per customer: the latest delivered version of the CRM account (with the company's attributes).
with

versions as (

    select * from {{ ref('stg_account_versions') }}

),

ranked as (

    select
        versions.*,
        row_number() over (partition by customer_id order by updated_at desc, batch_date desc) as version_rank

    from versions

),

final as (

    select
        customer_id,
        company_name,
        email,
        country,
        segment,
        current_plan,
        signup_date,
        acquisition_channel,
        marketing_consent,
        is_unsubscribed,
        account_manager,
        onboarding_completed_on,
        phone,
        sms_consent,
        push_consent,
        language,
        time_zone,
        {%- for attribute in var('customer_attributes') %}
        {{ adapter.quote(attribute['name']) }},
        {%- endfor %}
        updated_at,
        batch_date

    from ranked
    where version_rank = 1

)

select * from final
