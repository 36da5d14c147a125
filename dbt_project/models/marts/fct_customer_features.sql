-- The company-invariant features of every active customer at every snapshot date, point-in-time correct:
-- a feature at snapshot S sees only what happened strictly before S, judged by event-time columns (opened_at /
-- resolved_at, due and paid dates, responded_at, subscription start dates) and, for the account's own fields,
-- the account version in force at S (int_account_versions). Behaviour (usage) features are in
-- fct_behaviour_features, the company's extra attributes in fct_attribute_features.
--
-- Portable SQL: "the row in force at S" is an interval join ([valid from, next valid from)) instead of an
-- ASOF join; windowed counts are range joins of the fact rows to the (small) snapshot calendar.
with

spine as (

    select
        customer_id,
        snapshot_date,
        cast(snapshot_date as {{ dbt.type_timestamp() }}) as snapshot_ts,
        cast({{ dbt.dateadd('month', -3, 'snapshot_date') }} as date) as snapshot_3m_ago,
        spell_number,
        spell_start_date

    from {{ ref('int_customer_snapshots') }}

),

snapshot_dates as (

    select
        snapshot_date,
        cast(snapshot_date as {{ dbt.type_timestamp() }}) as snapshot_ts,
        cast({{ dbt.dateadd('day', -30, 'snapshot_date') }} as {{ dbt.type_timestamp() }}) as last_30d_start_ts,
        cast({{ dbt.dateadd('day', -90, 'snapshot_date') }} as date) as last_90d_start

    from {{ ref('int_snapshot_dates') }}

),

versions as (

    select * from {{ ref('int_account_versions') }}

),

periods as (

    select * from {{ ref('int_subscription_periods') }}

),

billing as (

    select * from {{ ref('int_billing_history') }}

),

tickets as (

    select * from {{ ref('int_ticket_lifecycles') }}

),

-- the account as it was known at S
account_at_snapshot as (

    select
        spine.customer_id,
        spine.snapshot_date,
        versions.segment,
        versions.country,
        versions.acquisition_channel,
        versions.current_plan,
        versions.account_manager,
        versions.signup_date,
        versions.onboarding_completed_on

    from spine
    inner join versions
        on spine.customer_id = versions.customer_id
        and {{ account_version_in_force('versions', 'spine.snapshot_date') }}

),

-- the subscription period in force the day before S: the last one started before S
current_period as (

    select
        spine.customer_id,
        spine.snapshot_date,
        periods.plan,
        periods.mrr

    from spine
    inner join periods
        on spine.customer_id = periods.customer_id
        and periods.start_date < spine.snapshot_date
        and (periods.next_start_date is null or periods.next_start_date >= spine.snapshot_date)

),

-- the period in force the day before S - 3 months, unless the customer had cancelled by then
period_3m_ago as (

    select
        spine.customer_id,
        spine.snapshot_date,
        periods.mrr

    from spine
    inner join periods
        on spine.customer_id = periods.customer_id
        and periods.start_date < spine.snapshot_3m_ago
        and (periods.next_start_date is null or periods.next_start_date >= spine.snapshot_3m_ago)
        and (periods.cancel_date is null or periods.cancel_date >= spine.snapshot_3m_ago)

),

downgrades as (

    select
        periods.customer_id,
        snapshot_dates.snapshot_date,
        count(*) as downgrades_90d

    from periods
    inner join snapshot_dates
        on periods.start_date >= snapshot_dates.last_90d_start
        and periods.start_date < snapshot_dates.snapshot_date
    where periods.is_downgrade
    group by periods.customer_id, snapshot_dates.snapshot_date

),

payment_issues as (

    select
        billing.customer_id,
        snapshot_dates.snapshot_date,
        sum(case when billing.is_late then 1 else 0 end) as late_payments_90d,
        sum(case when billing.is_failed then 1 else 0 end) as failed_payments_90d

    from billing
    inner join snapshot_dates
        on billing.due_date >= snapshot_dates.last_90d_start
        and billing.due_date < snapshot_dates.snapshot_date
    where billing.is_late or billing.is_failed
    group by billing.customer_id, snapshot_dates.snapshot_date

),

recent_tickets as (

    select
        tickets.customer_id,
        snapshot_dates.snapshot_date,
        count(*) as tickets_30d,
        sum(case when tickets.is_escalated then 1 else 0 end) as escalations_30d

    from tickets
    inner join snapshot_dates
        on tickets.opened_at >= snapshot_dates.last_30d_start_ts
        and tickets.opened_at < snapshot_dates.snapshot_ts
    group by tickets.customer_id, snapshot_dates.snapshot_date

),

-- open at S: opened before S and not resolved before S (a resolution on or after S is not yet known)
open_tickets as (

    select
        tickets.customer_id,
        snapshot_dates.snapshot_date,
        count(*) as unresolved_tickets,
        max({{ dbt.datediff('tickets.opened_date', 'snapshot_dates.snapshot_date', 'day') }})
            as oldest_unresolved_ticket_days

    from tickets
    inner join snapshot_dates
        on tickets.opened_at < snapshot_dates.snapshot_ts
        and (tickets.resolved_at is null or tickets.resolved_at >= snapshot_dates.snapshot_ts)
    group by tickets.customer_id, snapshot_dates.snapshot_date

),

-- the last answer of each day
nps_daily as (

    select
        customer_id,
        responded_at,
        score,
        row_number() over (partition by customer_id, responded_at order by response_id desc) as answer_rank

    from {{ ref('stg_nps_responses') }}

),

-- each day's answer with the one before it, in force from the next day until the next answer is
nps as (

    select
        customer_id,
        score,
        lag(score) over (partition by customer_id order by responded_at) as previous_score,
        cast({{ dbt.dateadd('day', 1, 'responded_at') }} as date) as visible_from,
        cast({{ dbt.dateadd('day', 1, 'lead(responded_at) over (partition by customer_id order by responded_at)') }} as date)
            as visible_until

    from nps_daily
    where answer_rank = 1

),

latest_nps as (

    select
        spine.customer_id,
        spine.snapshot_date,
        nps.score,
        nps.previous_score

    from spine
    inner join nps
        on spine.customer_id = nps.customer_id
        and nps.visible_from <= spine.snapshot_date
        and (nps.visible_until is null or nps.visible_until > spine.snapshot_date)

),

joined as (

    select
        spine.customer_id,
        spine.snapshot_date,
        account_at_snapshot.segment,
        account_at_snapshot.country,
        account_at_snapshot.acquisition_channel,
        coalesce(current_period.plan, account_at_snapshot.current_plan) as plan,
        account_at_snapshot.account_manager is not null as has_account_manager,
        {{ dbt.datediff('account_at_snapshot.signup_date', 'spine.snapshot_date', 'day') }} as tenure_days,
        coalesce(account_at_snapshot.onboarding_completed_on < spine.snapshot_date, false) as onboarding_completed,
        case
            when account_at_snapshot.onboarding_completed_on < spine.snapshot_date
                then {{ dbt.datediff('account_at_snapshot.signup_date', 'account_at_snapshot.onboarding_completed_on', 'day') }}
        end as days_to_onboard,
        spine.spell_number - 1 as previous_spells,
        {{ dbt.datediff('spine.spell_start_date', 'spine.snapshot_date', 'day') }} as spell_tenure_days,
        coalesce(current_period.mrr, 0) as mrr,
        period_3m_ago.mrr as mrr_3m_ago,
        case
            when period_3m_ago.mrr > 0
                then 100 * (coalesce(current_period.mrr, 0) - period_3m_ago.mrr) / period_3m_ago.mrr
        end as mrr_change_3m_pct,
        coalesce(downgrades.downgrades_90d, 0) as downgrades_90d,
        coalesce(payment_issues.late_payments_90d, 0) as late_payments_90d,
        coalesce(payment_issues.failed_payments_90d, 0) as failed_payments_90d,
        coalesce(recent_tickets.tickets_30d, 0) as tickets_30d,
        coalesce(open_tickets.unresolved_tickets, 0) as unresolved_tickets,
        open_tickets.oldest_unresolved_ticket_days,
        coalesce(recent_tickets.escalations_30d, 0) as escalations_30d,
        latest_nps.score as latest_nps,
        latest_nps.score - latest_nps.previous_score as nps_trend

    from spine
    inner join account_at_snapshot
        on spine.customer_id = account_at_snapshot.customer_id
        and spine.snapshot_date = account_at_snapshot.snapshot_date
    left join current_period
        on spine.customer_id = current_period.customer_id
        and spine.snapshot_date = current_period.snapshot_date
    left join period_3m_ago
        on spine.customer_id = period_3m_ago.customer_id
        and spine.snapshot_date = period_3m_ago.snapshot_date
    left join downgrades
        on spine.customer_id = downgrades.customer_id
        and spine.snapshot_date = downgrades.snapshot_date
    left join payment_issues
        on spine.customer_id = payment_issues.customer_id
        and spine.snapshot_date = payment_issues.snapshot_date
    left join recent_tickets
        on spine.customer_id = recent_tickets.customer_id
        and spine.snapshot_date = recent_tickets.snapshot_date
    left join open_tickets
        on spine.customer_id = open_tickets.customer_id
        and spine.snapshot_date = open_tickets.snapshot_date
    left join latest_nps
        on spine.customer_id = latest_nps.customer_id
        and spine.snapshot_date = latest_nps.snapshot_date

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(snapshot_date as date) as snapshot_date,
        cast(plan as {{ dbt.type_string() }}) as plan,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(country as {{ dbt.type_string() }}) as country,
        cast(acquisition_channel as {{ dbt.type_string() }}) as acquisition_channel,
        cast(has_account_manager as {{ dbt.type_boolean() }}) as has_account_manager,
        cast(tenure_days as {{ dbt.type_int() }}) as tenure_days,
        cast(onboarding_completed as {{ dbt.type_boolean() }}) as onboarding_completed,
        cast(days_to_onboard as {{ dbt.type_int() }}) as days_to_onboard,
        cast(previous_spells as {{ dbt.type_int() }}) as previous_spells,
        cast(spell_tenure_days as {{ dbt.type_int() }}) as spell_tenure_days,
        cast(mrr as {{ type_double() }}) as mrr,
        cast(mrr_3m_ago as {{ type_double() }}) as mrr_3m_ago,
        cast(mrr_change_3m_pct as {{ type_double() }}) as mrr_change_3m_pct,
        cast(downgrades_90d as {{ dbt.type_int() }}) as downgrades_90d,
        cast(late_payments_90d as {{ dbt.type_int() }}) as late_payments_90d,
        cast(failed_payments_90d as {{ dbt.type_int() }}) as failed_payments_90d,
        cast(tickets_30d as {{ dbt.type_int() }}) as tickets_30d,
        cast(unresolved_tickets as {{ dbt.type_int() }}) as unresolved_tickets,
        cast(oldest_unresolved_ticket_days as {{ dbt.type_int() }}) as oldest_unresolved_ticket_days,
        cast(escalations_30d as {{ dbt.type_int() }}) as escalations_30d,
        cast(latest_nps as {{ dbt.type_int() }}) as latest_nps,
        cast(nps_trend as {{ dbt.type_int() }}) as nps_trend

    from joined

)

select * from final
