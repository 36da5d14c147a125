-- The speed floor for the feature table: one hand-written DuckDB statement that computes, straight from raw.*,
-- what fct_customer_features joined with fct_behaviour_features (on customer_id, snapshot_date) holds for the
-- saas company profile (event types login, session with seconds, feature_use; no extra attributes; every
-- source delivered), with the dbt models' semantics: the latest copy or version of each row, the account
-- version in force at S, monthly snapshots S from the first month with 60 days of usage history up to the
-- latest batch, one row per customer and S at which an active spell covers S, and only data strictly before
-- S. benchmarks/features.py times it against `dbt build` and checks the two tables are equal row for row.
--
-- Where the models use range joins to the snapshot calendar, this equi-joins a calendar of the 90 days before
-- each snapshot; usage is read once into customer-day rows, and the recency of an event type is its last
-- day in [S - 60, S) (the models' days_since_last_* is null beyond 60 days).
with
events as (
    select customer_id, cast(event_ts as date) as d, event_type, duration_seconds
    from raw.usage_events
    qualify row_number() over (partition by event_id order by _batch_date desc, _row_number desc) = 1
),
daily as (
    select
        customer_id,
        d,
        count(*) as events,
        count(*) filter (where event_type = 'login') as login,
        count(*) filter (where event_type = 'session') as session,
        sum(duration_seconds) filter (where event_type = 'session') as session_seconds,
        count(*) filter (where event_type = 'feature_use') as feature_use
    from events
    group by customer_id, d
),
bounds as (
    select
        (select max(b) from (
            select max(_batch_date) as b from raw.accounts union all
            select max(_batch_date) from raw.subscriptions union all
            select max(_batch_date) from raw.invoices union all
            select max(_batch_date) from raw.usage_events union all
            select max(_batch_date) from raw.support_tickets union all
            select max(_batch_date) from raw.nps_responses)) as as_of_date,
        cast(date_trunc('month', (select min(d) from daily) + 59) + interval 1 month as date) as first_snapshot
),
snapshots as (
    select cast(unnest(generate_series(first_snapshot, as_of_date, interval 1 month)) as date) as s
    from bounds
),
-- each of the 90 days before every snapshot, with how many days before it lies: windows are equi-joins
snapshot_days as (
    select s, s - cast(k as integer) as day, k as days_before
    from snapshots cross join range(1, 91) as r(k)
),
behaviour as (
    select
        daily.customer_id,
        w.s,
        count(*) filter (where w.days_before <= 30) as active_days_30d,
        sum(daily.events) filter (where w.days_before <= 30) as events_30d,
        sum(daily.events) filter (where w.days_before > 30) as events_prev_30d,
        sum(daily.login) filter (where w.days_before <= 30) as login_30d,
        sum(daily.login) filter (where w.days_before > 30) as login_prev_30d,
        sum(daily.session) filter (where w.days_before <= 30) as session_30d,
        sum(daily.session) filter (where w.days_before > 30) as session_prev_30d,
        sum(daily.session_seconds) filter (where w.days_before <= 30) as session_seconds_30d,
        sum(daily.session_seconds) filter (where w.days_before > 30) as session_seconds_prev_30d,
        sum(daily.feature_use) filter (where w.days_before <= 30) as feature_use_30d,
        sum(daily.feature_use) filter (where w.days_before > 30) as feature_use_prev_30d,
        min(w.days_before) as days_since_last_event,
        min(w.days_before) filter (where daily.login > 0) as days_since_last_login,
        min(w.days_before) filter (where daily.session > 0) as days_since_last_session,
        min(w.days_before) filter (where daily.feature_use > 0) as days_since_last_feature_use
    from daily
    join snapshot_days w on daily.d = w.day and w.days_before <= 60
    group by daily.customer_id, w.s
),
-- every version of each account (the latest copy of each updated_at), in force at S from its updated_at
-- (the first version from the beginning of time) until the next version's; the latest gives the signup date
versions as (
    select
        *,
        coalesce(case when row_number() over (partition by customer_id order by updated_at) > 1 then updated_at end,
            '-infinity'::timestamp) as in_force_from,
        coalesce(lead(updated_at) over (partition by customer_id order by updated_at), 'infinity'::timestamp)
            as in_force_until,
        row_number() over (partition by customer_id order by updated_at desc) = 1 as is_latest
    from (
        select
            customer_id,
            signup_date,
            segment,
            country,
            acquisition_channel,
            plan,
            account_manager,
            onboarding_completed_at,
            updated_at
        from raw.accounts
        qualify row_number() over (
            partition by customer_id, updated_at order by _batch_date desc, _row_number desc) = 1
    )
),
accounts as (
    select customer_id, signup_date from versions where is_latest
),
periods as (
    select
        *,
        coalesce(lead(start_date) over w, 'infinity'::date) as next_start_date,
        coalesce(cancel_date, 'infinity'::date) as cancelled_from,
        1 + coalesce(sum(case when cancel_date is not null then 1 else 0 end)
            over (w rows between unbounded preceding and 1 preceding), 0) as spell_number
    from (
        select * from raw.subscriptions
        qualify row_number() over (
            partition by subscription_id order by updated_at desc, _batch_date desc, _row_number desc) = 1
    )
    window w as (partition by customer_id order by start_date, subscription_id)
),
spells as (
    select p.customer_id, p.spell_number, min(p.start_date) as spell_start, max(p.cancel_date) as spell_end
    from periods p
    semi join accounts a on p.customer_id = a.customer_id
    group by p.customer_id, p.spell_number
    union all
    select a.customer_id, 1, a.signup_date, null
    from accounts a
    anti join periods p on p.customer_id = a.customer_id
),
spine as (
    select sp.customer_id, x.s, cast(x.s - interval 3 month as date) as s3, sp.spell_number, sp.spell_start
    from spells sp
    join snapshots x on sp.spell_start < x.s and (sp.spell_end is null or sp.spell_end >= x.s)
    qualify row_number() over (
        partition by sp.customer_id, x.s order by sp.spell_start desc, sp.spell_number desc) = 1
),
downgrades as (
    select p.customer_id, w.s, count(*) as n
    from periods p
    join snapshot_days w on p.start_date = w.day
    where p.change_type = 'downgrade'
    group by p.customer_id, w.s
),
payments as (
    select i.customer_id, w.s, count(*) filter (where i.is_late) as late, count(*) filter (where i.is_failed) as failed
    from (
        select
            customer_id,
            due_date,
            paid_date is null or paid_date > due_date as is_late,
            failed_attempts > 0 or status = 'failed' as is_failed
        from raw.invoices
        qualify row_number() over (
            partition by invoice_id order by updated_at desc, _batch_date desc, _row_number desc) = 1
    ) as i
    join snapshot_days w on i.due_date = w.day
    where i.is_late or i.is_failed
    group by i.customer_id, w.s
),
tickets as (
    select customer_id, opened_at, resolved_at, escalated
    from raw.support_tickets
    qualify row_number() over (
        partition by ticket_id order by updated_at desc, _batch_date desc, _row_number desc) = 1
),
-- opened in [S - 30 days, S): opened on one of the 30 days before S
recent_tickets as (
    select t.customer_id, w.s, count(*) as n, count(*) filter (where t.escalated) as escalated
    from tickets t
    join snapshot_days w on cast(t.opened_at as date) = w.day and w.days_before <= 30
    group by t.customer_id, w.s
),
open_tickets as (
    select t.customer_id, x.s, count(*) as n, max(date_diff('day', cast(t.opened_at as date), x.s)) as oldest
    from tickets t
    join snapshots x
        on t.opened_at < cast(x.s as timestamp)
        and (t.resolved_at is null or t.resolved_at >= cast(x.s as timestamp))
    group by t.customer_id, x.s
),
-- the last answer of each day with the answer of the day before it, known from the next day
nps as (
    select
        customer_id,
        score,
        lag(score) over (partition by customer_id order by responded_at) as previous_score,
        responded_at + 1 as visible_from,
        coalesce(lead(responded_at) over (partition by customer_id order by responded_at) + 1, 'infinity'::date)
            as visible_until
    from (
        select * from (
            select response_id, customer_id, responded_at, score
            from raw.nps_responses
            qualify row_number() over (partition by response_id order by _batch_date desc, _row_number desc) = 1
        )
        qualify row_number() over (partition by customer_id, responded_at order by response_id desc) = 1
    )
),
features as (
    select
        sp.customer_id,
        sp.s as snapshot_date,
        coalesce(cp.plan, v.plan) as plan,
        v.segment,
        v.country,
        v.acquisition_channel,
        nullif(trim(v.account_manager), '') is not null as has_account_manager,
        cast(date_diff('day', v.signup_date, sp.s) as integer) as tenure_days,
        coalesce(v.onboarding_completed_at < sp.s, false) as onboarding_completed,
        cast(case when v.onboarding_completed_at < sp.s
            then date_diff('day', v.signup_date, v.onboarding_completed_at) end as integer) as days_to_onboard,
        cast(sp.spell_number - 1 as integer) as previous_spells,
        cast(date_diff('day', sp.spell_start, sp.s) as integer) as spell_tenure_days,
        coalesce(cp.mrr, 0) as mrr_now,
        p3.mrr as mrr_then,
        cast(coalesce(dg.n, 0) as integer) as downgrades_90d,
        cast(coalesce(pay.late, 0) as integer) as late_payments_90d,
        cast(coalesce(pay.failed, 0) as integer) as failed_payments_90d,
        cast(coalesce(rt.n, 0) as integer) as tickets_30d,
        cast(coalesce(ot.n, 0) as integer) as unresolved_tickets,
        cast(ot.oldest as integer) as oldest_unresolved_ticket_days,
        cast(coalesce(rt.escalated, 0) as integer) as escalations_30d,
        cast(n.score as integer) as latest_nps,
        cast(n.score - n.previous_score as integer) as nps_trend,
        -- behaviour scales by the tenure of the latest account version (stg_accounts), as the model does
        date_diff('day', a.signup_date, sp.s) as tenure,
        coalesce(b.active_days_30d, 0) as active_days,
        coalesce(b.events_30d, 0) as events_30d,
        coalesce(b.events_prev_30d, 0) as events_prev_30d,
        coalesce(b.login_30d, 0) as login_30d,
        coalesce(b.login_prev_30d, 0) as login_prev_30d,
        coalesce(b.session_30d, 0) as session_30d,
        coalesce(b.session_prev_30d, 0) as session_prev_30d,
        cast(coalesce(b.session_seconds_30d, 0) as double) as session_seconds_30d,
        cast(coalesce(b.session_seconds_prev_30d, 0) as double) as session_seconds_prev_30d,
        coalesce(b.feature_use_30d, 0) as feature_use_30d,
        coalesce(b.feature_use_prev_30d, 0) as feature_use_prev_30d,
        cast(b.days_since_last_event as integer) as days_since_last_event,
        cast(b.days_since_last_login as integer) as days_since_last_login,
        cast(b.days_since_last_session as integer) as days_since_last_session,
        cast(b.days_since_last_feature_use as integer) as days_since_last_feature_use
    from spine sp
    join accounts a on sp.customer_id = a.customer_id
    -- the row in force at S: few per customer, so hash joins on the customer with range conditions (an
    -- ASOF join can be planned as a nested loop over all customers when the spine's size is misjudged; an
    -- OR in a left join's condition makes it a nested loop too)
    join versions v
        on sp.customer_id = v.customer_id
        and v.in_force_from < cast(sp.s as timestamp)
        and v.in_force_until >= cast(sp.s as timestamp)
    left join periods cp
        on sp.customer_id = cp.customer_id
        and cp.start_date < sp.s
        and cp.next_start_date >= sp.s
    left join periods p3
        on sp.customer_id = p3.customer_id
        and p3.start_date < sp.s3
        and p3.next_start_date >= sp.s3
        and p3.cancelled_from >= sp.s3
    left join nps n
        on sp.customer_id = n.customer_id
        and n.visible_from <= sp.s
        and n.visible_until > sp.s
    left join behaviour b on sp.customer_id = b.customer_id and sp.s = b.s
    left join downgrades dg on sp.customer_id = dg.customer_id and sp.s = dg.s
    left join payments pay on sp.customer_id = pay.customer_id and sp.s = pay.s
    left join recent_tickets rt on sp.customer_id = rt.customer_id and sp.s = rt.s
    left join open_tickets ot on sp.customer_id = ot.customer_id and sp.s = ot.s
)
-- the columns in the marts' order, each computed as the model computes it (same types, same arithmetic)
select
    customer_id,
    snapshot_date,
    plan,
    segment,
    country,
    acquisition_channel,
    has_account_manager,
    tenure_days,
    onboarding_completed,
    days_to_onboard,
    previous_spells,
    spell_tenure_days,
    mrr_now as mrr,
    mrr_then as mrr_3m_ago,
    case when mrr_then > 0 then 100 * (mrr_now - mrr_then) / mrr_then end as mrr_change_3m_pct,
    downgrades_90d,
    late_payments_90d,
    failed_payments_90d,
    tickets_30d,
    unresolved_tickets,
    oldest_unresolved_ticket_days,
    escalations_30d,
    latest_nps,
    nps_trend,
    cast(events_30d as integer) as events_30d,
    cast(events_prev_30d as integer) as events_prev_30d,
    case when events_prev_30d > 0
        then 100 * cast(events_30d - events_prev_30d as double) / events_prev_30d end as events_change_pct,
    cast(active_days as integer) as active_days_30d,
    days_since_last_event,
    case
        when tenure >= 30 then cast(events_30d as double)
        when tenure > 0 then cast(events_30d as double) * 30 / tenure
    end as events_30d_tenure_scaled,
    cast(login_30d as integer) as login_30d,
    cast(login_prev_30d as integer) as login_prev_30d,
    case when login_prev_30d > 0
        then 100 * cast(login_30d - login_prev_30d as double) / login_prev_30d end as login_change_pct,
    days_since_last_login,
    case when active_days > 0 then cast(login_30d as double) / active_days end as login_per_active_day,
    cast(session_30d as integer) as session_30d,
    cast(session_prev_30d as integer) as session_prev_30d,
    session_seconds_30d,
    session_seconds_prev_30d,
    case when session_prev_30d > 0
        then 100 * cast(session_30d - session_prev_30d as double) / session_prev_30d end as session_change_pct,
    case when session_seconds_prev_30d > 0
        then 100 * (session_seconds_30d - session_seconds_prev_30d) / session_seconds_prev_30d
    end as session_seconds_change_pct,
    days_since_last_session,
    case when active_days > 0 then cast(session_30d as double) / active_days end as session_per_active_day,
    case when active_days > 0 then session_seconds_30d / active_days end as session_seconds_per_active_day,
    cast(feature_use_30d as integer) as feature_use_30d,
    cast(feature_use_prev_30d as integer) as feature_use_prev_30d,
    case when feature_use_prev_30d > 0
        then 100 * cast(feature_use_30d - feature_use_prev_30d as double) / feature_use_prev_30d
    end as feature_use_change_pct,
    days_since_last_feature_use,
    case when active_days > 0 then cast(feature_use_30d as double) / active_days end as feature_use_per_active_day
from features
