-- Active spells: a run of subscription periods from a customer's first period, or the first period after a
-- cancellation (a reactivation), to the cancel_date that closes it (null while it runs). A customer who
-- cancels on 1 March and subscribes again on 15 July has two spells; churn labels are defined per spell.
with

periods as (

    select * from {{ ref('int_subscription_periods') }}

),

spells as (

    select
        customer_id,
        spell_number,
        min(start_date) as spell_start_date,
        -- only a spell's last period can be cancelled (a cancellation closes the spell)
        max(cancel_date) as spell_end_date,
        count(*) as periods

    from periods
    group by customer_id, spell_number

),

final as (

    select
        customer_id,
        cast(spell_number as {{ dbt.type_int() }}) as spell_number,
        spell_start_date,
        spell_end_date,
        spell_end_date is null as is_running,
        cast(periods as {{ dbt.type_int() }}) as periods,
        lag(spell_end_date) over (partition by customer_id order by spell_number) as previous_spell_end_date

    from spells

)

select * from final
