-- Features of every active customer at every snapshot date, point-in-time correct: a feature at
-- snapshot S sees only what happened strictly before S, judged by event-time columns (event day,
-- opened_at / resolved_at, due and paid dates, responded_at, subscription start dates).
--
-- Cost: windowed usage features come from one range join of the daily rows to the (small) snapshot
-- calendar; "last seen" facts older than any window are carried forward month by month and picked
-- up with ASOF joins; there are no correlated subqueries.
with

spine as (

    select
        customer_id,
        snapshot_date,
        cast(snapshot_date - interval 3 month as date) as snapshot_3m_ago

    from {{ ref('int_customer_snapshots') }}

),

snapshot_dates as (

    select snapshot_date from {{ ref('int_snapshot_dates') }}

),

accounts as (

    select * from {{ ref('stg_accounts') }}

),

usage_daily as (

    select * from {{ ref('int_usage_daily') }}

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

-- usage in [S - 60, S): the last 30 days and the 30 before them
usage_windows as (

    select
        usage_daily.customer_id,
        snapshot_dates.snapshot_date,
        sum(usage_daily.logins) filter (where usage_daily.activity_date >= snapshot_dates.snapshot_date - 30) as logins_30d,
        sum(usage_daily.sessions) filter (where usage_daily.activity_date >= snapshot_dates.snapshot_date - 30) as sessions_30d,
        sum(usage_daily.feature_uses) filter (where usage_daily.activity_date >= snapshot_dates.snapshot_date - 30) as feature_uses_30d,
        sum(usage_daily.events) filter (where usage_daily.activity_date >= snapshot_dates.snapshot_date - 30) as events_30d,
        sum(usage_daily.session_seconds) filter (where usage_daily.activity_date >= snapshot_dates.snapshot_date - 30) as session_seconds_30d,
        bit_or(usage_daily.feature_mask) filter (where usage_daily.activity_date >= snapshot_dates.snapshot_date - 30) as feature_mask_30d,
        sum(usage_daily.events) filter (where usage_daily.activity_date < snapshot_dates.snapshot_date - 30) as events_prev_30d

    from usage_daily
    inner join snapshot_dates
        on usage_daily.activity_date >= snapshot_dates.snapshot_date - 60
        and usage_daily.activity_date < snapshot_dates.snapshot_date
    group by usage_daily.customer_id, snapshot_dates.snapshot_date

),

-- last login / feature use per calendar month, visible from the first day of the next month
usage_months as (

    select
        customer_id,
        cast(date_trunc('month', activity_date) + interval 1 month as date) as visible_from,
        max(activity_date) filter (where logins > 0) as last_login_date,
        max(activity_date) filter (where feature_uses > 0) as last_feature_use_date

    from usage_daily
    group by customer_id, date_trunc('month', activity_date)

),

usage_last_seen as (

    select
        customer_id,
        visible_from,
        max(last_login_date) over customer_history as last_login_date,
        max(last_feature_use_date) over customer_history as last_feature_use_date

    from usage_months
    window customer_history as (
        partition by customer_id order by visible_from rows between unbounded preceding and current row
    )

),

downgrades as (

    select
        periods.customer_id,
        snapshot_dates.snapshot_date,
        count(*) as downgrades_90d

    from periods
    inner join snapshot_dates
        on periods.start_date >= snapshot_dates.snapshot_date - 90
        and periods.start_date < snapshot_dates.snapshot_date
    where periods.is_downgrade
    group by periods.customer_id, snapshot_dates.snapshot_date

),

payment_issues as (

    select
        billing.customer_id,
        snapshot_dates.snapshot_date,
        count(*) filter (where billing.is_late) as late_payments_90d,
        count(*) filter (where billing.is_failed) as failed_payments_90d

    from billing
    inner join snapshot_dates
        on billing.due_date >= snapshot_dates.snapshot_date - 90
        and billing.due_date < snapshot_dates.snapshot_date
    where billing.is_late or billing.is_failed
    group by billing.customer_id, snapshot_dates.snapshot_date

),

recent_tickets as (

    select
        tickets.customer_id,
        snapshot_dates.snapshot_date,
        count(*) as tickets_30d,
        count(*) filter (where tickets.is_escalated) as escalations_30d

    from tickets
    inner join snapshot_dates
        on tickets.opened_at >= snapshot_dates.snapshot_date - 30
        and tickets.opened_at < snapshot_dates.snapshot_date
    group by tickets.customer_id, snapshot_dates.snapshot_date

),

-- open at S: opened before S and not resolved before S (a resolution on or after S is not yet known)
open_tickets as (

    select
        tickets.customer_id,
        snapshot_dates.snapshot_date,
        count(*) as unresolved_tickets,
        max(date_diff('day', tickets.opened_date, snapshot_dates.snapshot_date)) as oldest_unresolved_ticket_days

    from tickets
    inner join snapshot_dates
        on tickets.opened_at < snapshot_dates.snapshot_date
        and coalesce(tickets.resolved_at, 'infinity'::timestamp) >= snapshot_dates.snapshot_date
    group by tickets.customer_id, snapshot_dates.snapshot_date

),

-- the last answer of each day, with the answer before it, visible from the next day
nps as (

    select
        customer_id,
        responded_at + 1 as visible_from,
        score,
        lag(score) over (partition by customer_id order by responded_at) as previous_score

    from {{ ref('stg_nps_responses') }}
    qualify row_number() over (partition by customer_id, responded_at order by response_id desc) = 1

),

joined as (

    select
        spine.customer_id,
        spine.snapshot_date,
        accounts.segment,
        accounts.country,
        accounts.acquisition_channel,
        coalesce(current_period.plan, accounts.current_plan) as plan,
        accounts.account_manager is not null as has_account_manager,
        date_diff('day', accounts.signup_date, spine.snapshot_date) as tenure_days,
        coalesce(accounts.onboarding_completed_on < spine.snapshot_date, false) as onboarding_completed,
        case
            when accounts.onboarding_completed_on < spine.snapshot_date
                then date_diff('day', accounts.signup_date, accounts.onboarding_completed_on)
        end as days_to_onboard,
        date_diff('day', usage_last_seen.last_login_date, spine.snapshot_date) as days_since_last_login,
        date_diff('day', usage_last_seen.last_feature_use_date, spine.snapshot_date) as days_since_last_feature_use,
        coalesce(usage_windows.logins_30d, 0) as logins_30d,
        coalesce(usage_windows.sessions_30d, 0) as sessions_30d,
        coalesce(usage_windows.feature_uses_30d, 0) as feature_uses_30d,
        coalesce(usage_windows.session_seconds_30d, 0) as session_seconds_30d,
        coalesce(usage_windows.events_30d, 0) as events_30d,
        coalesce(usage_windows.events_prev_30d, 0) as events_prev_30d,
        case
            when usage_windows.events_prev_30d > 0
                then 100.0 * (usage_windows.events_prev_30d - coalesce(usage_windows.events_30d, 0))
                    / usage_windows.events_prev_30d
        end as usage_decline_pct,
        bit_count(coalesce(usage_windows.feature_mask_30d, 0)) as distinct_features_30d,
        coalesce(current_period.mrr, 0) as mrr,
        period_3m_ago.mrr as mrr_3m_ago,
        case
            when period_3m_ago.mrr > 0
                then 100.0 * (coalesce(current_period.mrr, 0) - period_3m_ago.mrr) / period_3m_ago.mrr
        end as mrr_change_3m_pct,
        coalesce(downgrades.downgrades_90d, 0) as downgrades_90d,
        coalesce(payment_issues.late_payments_90d, 0) as late_payments_90d,
        coalesce(payment_issues.failed_payments_90d, 0) as failed_payments_90d,
        coalesce(recent_tickets.tickets_30d, 0) as tickets_30d,
        coalesce(open_tickets.unresolved_tickets, 0) as unresolved_tickets,
        open_tickets.oldest_unresolved_ticket_days,
        coalesce(recent_tickets.escalations_30d, 0) as escalations_30d,
        nps.score as latest_nps,
        nps.score - nps.previous_score as nps_trend

    from spine
    inner join accounts on spine.customer_id = accounts.customer_id
    left join usage_windows
        on spine.customer_id = usage_windows.customer_id
        and spine.snapshot_date = usage_windows.snapshot_date
    asof left join usage_last_seen
        on spine.customer_id = usage_last_seen.customer_id
        and spine.snapshot_date >= usage_last_seen.visible_from
    asof left join periods as current_period
        on spine.customer_id = current_period.customer_id
        and spine.snapshot_date > current_period.start_date
    asof left join periods as period_3m_ago
        on spine.customer_id = period_3m_ago.customer_id
        and spine.snapshot_3m_ago > period_3m_ago.start_date
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
    asof left join nps
        on spine.customer_id = nps.customer_id
        and spine.snapshot_date >= nps.visible_from

),

final as (

    select
        cast(customer_id as varchar) as customer_id,
        cast(snapshot_date as date) as snapshot_date,
        cast(plan as varchar) as plan,
        cast(segment as varchar) as segment,
        cast(country as varchar) as country,
        cast(acquisition_channel as varchar) as acquisition_channel,
        cast(has_account_manager as boolean) as has_account_manager,
        cast(tenure_days as integer) as tenure_days,
        cast(onboarding_completed as boolean) as onboarding_completed,
        cast(days_to_onboard as integer) as days_to_onboard,
        cast(days_since_last_login as integer) as days_since_last_login,
        cast(days_since_last_feature_use as integer) as days_since_last_feature_use,
        cast(logins_30d as integer) as logins_30d,
        cast(sessions_30d as integer) as sessions_30d,
        cast(feature_uses_30d as integer) as feature_uses_30d,
        cast(session_seconds_30d as bigint) as session_seconds_30d,
        cast(events_30d as integer) as events_30d,
        cast(events_prev_30d as integer) as events_prev_30d,
        cast(usage_decline_pct as double) as usage_decline_pct,
        cast(distinct_features_30d as integer) as distinct_features_30d,
        cast(mrr as double) as mrr,
        cast(mrr_3m_ago as double) as mrr_3m_ago,
        cast(mrr_change_3m_pct as double) as mrr_change_3m_pct,
        cast(downgrades_90d as integer) as downgrades_90d,
        cast(late_payments_90d as integer) as late_payments_90d,
        cast(failed_payments_90d as integer) as failed_payments_90d,
        cast(tickets_30d as integer) as tickets_30d,
        cast(unresolved_tickets as integer) as unresolved_tickets,
        cast(oldest_unresolved_ticket_days as integer) as oldest_unresolved_ticket_days,
        cast(escalations_30d as integer) as escalations_30d,
        cast(latest_nps as integer) as latest_nps,
        cast(nps_trend as integer) as nps_trend

    from joined

)

select * from final
