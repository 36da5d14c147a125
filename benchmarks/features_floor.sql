-- The speed floor for fct_customer_features: one hand-written DuckDB statement that computes the same
-- feature table straight from raw.*, with the same semantics (latest version per key, monthly
-- snapshots from the first month with 60 days of usage history up to the latest batch, only data
-- strictly before each snapshot). benchmarks/features.py times it against `dbt build`.
with
events as (
    select customer_id, cast(event_ts as date) as d, event_type, feature, duration_seconds
    from raw.usage_events
    qualify row_number() over (partition by event_id order by _batch_date desc, _row_number desc) = 1
),
daily as (
    select
        customer_id, d,
        count(*) as events,
        count(*) filter (where event_type = 'login') as logins,
        count(*) filter (where event_type = 'session') as sessions,
        count(*) filter (where event_type = 'feature_use') as feature_uses,
        coalesce(sum(duration_seconds) filter (where event_type = 'session'), 0) as session_seconds,
        bit_or(case feature when 'dashboards' then 1 when 'reports' then 2 when 'integrations' then 4
            when 'automation' then 8 when 'api' then 16 when 'collaboration' then 32 when 'exports' then 64
            else 0 end) filter (where event_type = 'feature_use') as feature_mask
    from events
    group by customer_id, d
),
accounts as (
    select * from raw.accounts
    qualify row_number() over (partition by customer_id order by updated_at desc, _batch_date desc, _row_number desc) = 1
),
periods as (
    select * from raw.subscriptions
    qualify row_number() over (partition by subscription_id order by updated_at desc, _batch_date desc, _row_number desc) = 1
),
invoices as (
    select * from raw.invoices
    qualify row_number() over (partition by invoice_id order by updated_at desc, _batch_date desc, _row_number desc) = 1
),
tickets as (
    select * from raw.support_tickets
    qualify row_number() over (partition by ticket_id order by updated_at desc, _batch_date desc, _row_number desc) = 1
),
nps as (
    select customer_id, responded_at + 1 as visible_from, score,
        lag(score) over (partition by customer_id order by responded_at) as previous_score
    from (
        select * from raw.nps_responses
        qualify row_number() over (partition by response_id order by _batch_date desc, _row_number desc) = 1
    )
    qualify row_number() over (partition by customer_id, responded_at order by response_id desc) = 1
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
spine as (
    select a.customer_id, x.s, cast(x.s - interval 3 month as date) as s3
    from accounts a
    cross join snapshots x
    left join (select customer_id, min(cancel_date) as c from periods group by 1) c using (customer_id)
    where a.signup_date < x.s and (c.c is null or c.c >= x.s)
),
usage_windows as (
    select u.customer_id, x.s,
        sum(logins) filter (where d >= x.s - 30) as logins_30d,
        sum(sessions) filter (where d >= x.s - 30) as sessions_30d,
        sum(feature_uses) filter (where d >= x.s - 30) as feature_uses_30d,
        sum(events) filter (where d >= x.s - 30) as events_30d,
        sum(session_seconds) filter (where d >= x.s - 30) as session_seconds_30d,
        bit_or(feature_mask) filter (where d >= x.s - 30) as mask_30d,
        sum(events) filter (where d < x.s - 30) as events_prev_30d
    from daily u join snapshots x on u.d >= x.s - 60 and u.d < x.s
    group by 1, 2
),
last_seen as (
    select customer_id, visible_from,
        max(ll) over w as last_login, max(lf) over w as last_feature_use
    from (
        select customer_id, cast(date_trunc('month', d) + interval 1 month as date) as visible_from,
            max(d) filter (where logins > 0) as ll, max(d) filter (where feature_uses > 0) as lf
        from daily group by 1, 2
    )
    window w as (partition by customer_id order by visible_from rows between unbounded preceding and current row)
),
downgrades as (
    select p.customer_id, x.s, count(*) as n
    from periods p join snapshots x on p.start_date >= x.s - 90 and p.start_date < x.s
    where p.change_type = 'downgrade' group by 1, 2
),
payments as (
    select i.customer_id, x.s,
        count(*) filter (where coalesce(i.paid_date > i.due_date, true)) as late,
        count(*) filter (where i.failed_attempts > 0 or i.status = 'failed') as failed
    from invoices i join snapshots x on i.due_date >= x.s - 90 and i.due_date < x.s
    where coalesce(i.paid_date > i.due_date, true) or i.failed_attempts > 0 or i.status = 'failed'
    group by 1, 2
),
recent_tickets as (
    select t.customer_id, x.s, count(*) as n, count(*) filter (where t.escalated) as escalated
    from tickets t join snapshots x on t.opened_at >= x.s - 30 and t.opened_at < x.s
    group by 1, 2
),
open_tickets as (
    select t.customer_id, x.s, count(*) as n, max(date_diff('day', cast(t.opened_at as date), x.s)) as oldest
    from tickets t join snapshots x
        on t.opened_at < x.s and coalesce(t.resolved_at, 'infinity'::timestamp) >= x.s
    group by 1, 2
)
select
    sp.customer_id,
    sp.s as snapshot_date,
    coalesce(cp.plan, a.plan) as plan,
    a.segment,
    a.country,
    a.acquisition_channel,
    nullif(trim(a.account_manager), '') is not null as has_account_manager,
    cast(date_diff('day', a.signup_date, sp.s) as integer) as tenure_days,
    coalesce(a.onboarding_completed_at < sp.s, false) as onboarding_completed,
    cast(case when a.onboarding_completed_at < sp.s
        then date_diff('day', a.signup_date, a.onboarding_completed_at) end as integer) as days_to_onboard,
    cast(date_diff('day', ls.last_login, sp.s) as integer) as days_since_last_login,
    cast(date_diff('day', ls.last_feature_use, sp.s) as integer) as days_since_last_feature_use,
    cast(coalesce(uw.logins_30d, 0) as integer) as logins_30d,
    cast(coalesce(uw.sessions_30d, 0) as integer) as sessions_30d,
    cast(coalesce(uw.feature_uses_30d, 0) as integer) as feature_uses_30d,
    cast(coalesce(uw.session_seconds_30d, 0) as bigint) as session_seconds_30d,
    cast(coalesce(uw.events_30d, 0) as integer) as events_30d,
    cast(coalesce(uw.events_prev_30d, 0) as integer) as events_prev_30d,
    case when uw.events_prev_30d > 0
        then 100.0 * (uw.events_prev_30d - coalesce(uw.events_30d, 0)) / uw.events_prev_30d end as usage_decline_pct,
    cast(bit_count(coalesce(uw.mask_30d, 0)) as integer) as distinct_features_30d,
    coalesce(cp.mrr, 0) as mrr,
    p3.mrr as mrr_3m_ago,
    case when p3.mrr > 0 then 100.0 * (coalesce(cp.mrr, 0) - p3.mrr) / p3.mrr end as mrr_change_3m_pct,
    cast(coalesce(dg.n, 0) as integer) as downgrades_90d,
    cast(coalesce(pay.late, 0) as integer) as late_payments_90d,
    cast(coalesce(pay.failed, 0) as integer) as failed_payments_90d,
    cast(coalesce(rt.n, 0) as integer) as tickets_30d,
    cast(coalesce(ot.n, 0) as integer) as unresolved_tickets,
    cast(ot.oldest as integer) as oldest_unresolved_ticket_days,
    cast(coalesce(rt.escalated, 0) as integer) as escalations_30d,
    cast(n.score as integer) as latest_nps,
    cast(n.score - n.previous_score as integer) as nps_trend
from spine sp
join accounts a on sp.customer_id = a.customer_id
left join usage_windows uw on sp.customer_id = uw.customer_id and sp.s = uw.s
asof left join last_seen ls on sp.customer_id = ls.customer_id and sp.s >= ls.visible_from
asof left join periods cp on sp.customer_id = cp.customer_id and sp.s > cp.start_date
asof left join periods p3 on sp.customer_id = p3.customer_id and sp.s3 > p3.start_date
left join downgrades dg on sp.customer_id = dg.customer_id and sp.s = dg.s
left join payments pay on sp.customer_id = pay.customer_id and sp.s = pay.s
left join recent_tickets rt on sp.customer_id = rt.customer_id and sp.s = rt.s
left join open_tickets ot on sp.customer_id = ot.customer_id and sp.s = ot.s
asof left join nps n on sp.customer_id = n.customer_id and sp.s >= n.visible_from
