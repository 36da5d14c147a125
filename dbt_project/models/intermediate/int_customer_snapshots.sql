-- The spine: one row per customer per snapshot date S at which the customer was active, i.e. an active spell
-- started before S and had not ended before S (a cancellation on S itself still counts as active at S, and is
-- labelled churned there). Customers with no subscription period at all are active from their signup, as
-- if one spell ran since. Every feature and label is keyed on it; the spell columns say which spell.
with

accounts as (

    select customer_id, signup_date from {{ ref('stg_accounts') }}

),

spells as (

    select * from {{ ref('int_subscription_spells') }}

),

unsubscribed_accounts as (

    select
        accounts.customer_id,
        cast(1 as {{ dbt.type_int() }}) as spell_number,
        accounts.signup_date as spell_start_date,
        cast(null as date) as spell_end_date

    from accounts
    where not exists (select 1 from spells where spells.customer_id = accounts.customer_id)

),

all_spells as (

    select spells.customer_id, spells.spell_number, spells.spell_start_date, spells.spell_end_date
    from spells
    inner join accounts on spells.customer_id = accounts.customer_id

    union all

    select customer_id, spell_number, spell_start_date, spell_end_date
    from unsubscribed_accounts

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

active as (

    select
        all_spells.customer_id,
        snapshot_dates.snapshot_date,
        snapshot_dates.as_of_date,
        snapshot_dates.is_latest_snapshot,
        all_spells.spell_number,
        all_spells.spell_start_date,
        all_spells.spell_end_date,
        -- spells should not overlap; if a company's data makes two cover S, the later one counts
        row_number() over (
            partition by all_spells.customer_id, snapshot_dates.snapshot_date
            order by all_spells.spell_start_date desc, all_spells.spell_number desc
        ) as spell_rank

    from all_spells
    cross join snapshot_dates
    where all_spells.spell_start_date < snapshot_dates.snapshot_date
      and (all_spells.spell_end_date is null or all_spells.spell_end_date >= snapshot_dates.snapshot_date)

),

final as (

    select
        customer_id,
        snapshot_date,
        as_of_date,
        is_latest_snapshot,
        spell_number,
        spell_start_date,
        spell_end_date

    from active
    where spell_rank = 1

)

select * from final
