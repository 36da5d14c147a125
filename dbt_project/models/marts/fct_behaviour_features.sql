-- Behaviour features of every active customer at every snapshot date, one column set per event type of the
-- company profile (var event_types) plus totals over all events, named as churn_platform/profile.py's
-- behaviour_features() names them (macro behaviour_feature_specs). Point in time: only days before S count.
-- Windows: the last 30 days are [S - 30, S), the 30 before them [S - 60, S - 30).
--
-- Nulls: counts and sums are 0 without events; *_change_pct is null when the 30 days before had none (or
-- their measure summed to 0); days_since_last_* counts days since the last such event within the recency
-- window (var recency_window_days, 60) and is null without one, so it means the same at every snapshot
-- however long the history behind it (an unbounded recency grows with the data's age and reads as drift);
-- *_per_active_day is null without an active day in
-- the last 30; events_30d_tenure_scaled scales a customer younger than 30 days up to 30 days of tenure.
{%- set event_types = var('event_types') %}
{%- set features = behaviour_feature_specs() %}
{%- set bases = [('events', none, false)] %}
{%- for event_type in event_types %}
    {%- do bases.append((event_type['name'], event_type['name'], false)) %}
    {%- if event_measure(event_type) %}
        {%- do bases.append((event_type['name'] ~ '_' ~ event_type['measure'], event_type['name'], true)) %}
    {%- endif %}
{%- endfor %}
with

spine as (

    select customer_id, snapshot_date from {{ ref('int_customer_snapshots') }}

),

accounts as (

    select customer_id, signup_date from {{ ref('stg_accounts') }}

),

snapshot_dates as (

    select
        snapshot_date,
        cast({{ dbt.dateadd('day', -30, 'snapshot_date') }} as date) as last_30d_start,
        cast({{ dbt.dateadd('day', -60, 'snapshot_date') }} as date) as prev_30d_start

    from {{ ref('int_snapshot_dates') }}

),

usage_daily as (

    select * from {{ ref('int_usage_daily') }}

),

-- daily rows in [S - 60, S), each flagged with its window
windowed as (

    select
        usage_daily.customer_id,
        snapshot_dates.snapshot_date,
        usage_daily.activity_date,
        usage_daily.event_type,
        usage_daily.events,
        usage_daily.measure_total,
        usage_daily.activity_date >= snapshot_dates.last_30d_start as in_last_30d

    from usage_daily
    inner join snapshot_dates
        on usage_daily.activity_date >= snapshot_dates.prev_30d_start
        and usage_daily.activity_date < snapshot_dates.snapshot_date

),

-- days with any event in the last 30 (two plain aggregations: a count(distinct) over the wide windowed rows
-- costs more than both)
active_days as (

    select customer_id, snapshot_date, count(*) as active_days_30d
    from (
        select customer_id, snapshot_date, activity_date
        from windowed
        where in_last_30d
        group by customer_id, snapshot_date, activity_date
    ) as days
    group by customer_id, snapshot_date

),

windows as (

    select
        customer_id,
        snapshot_date,
        {%- for base, event_type, is_measure in bases %}
        {%- set value = 'measure_total' if is_measure else 'events' %}
        {%- set of_type = ("event_type = '" ~ event_type ~ "' and ") if event_type else '' %}
        sum(case when {{ of_type }}in_last_30d then {{ value }} else 0 end) as {{ base }}_30d,
        sum(case when {{ of_type }}not in_last_30d then {{ value }} else 0 end) as {{ base }}_prev_30d
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from windowed
    group by customer_id, snapshot_date

),

-- the last day of each event type per calendar month, known from the first day of the next month
usage_months as (

    select
        customer_id,
        event_type,
        cast({{ dbt.date_trunc('month', 'activity_date') }} as date) as activity_month,
        activity_date

    from usage_daily

),

monthly_last_seen as (

    select
        customer_id,
        event_type,
        cast({{ dbt.dateadd('month', 1, 'activity_month') }} as date) as visible_from,
        max(activity_date) as last_date

    from usage_months
    group by customer_id, event_type, activity_month

),

-- months are in date order, so the latest month visible at S holds the last day seen before S
last_seen as (

    select
        customer_id,
        event_type,
        visible_from,
        lead(visible_from) over (partition by customer_id, event_type order by visible_from) as visible_until,
        last_date

    from monthly_last_seen

),

recency as (

    select
        last_seen.customer_id,
        snapshot_dates.snapshot_date,
        max(last_seen.last_date) as last_events_date
        {%- for event_type in event_types %},
        max(case when last_seen.event_type = '{{ event_type["name"] }}' then last_seen.last_date end)
            as last_{{ event_type['name'] }}_date
        {%- endfor %}

    from last_seen
    inner join snapshot_dates
        on last_seen.visible_from <= snapshot_dates.snapshot_date
        and (last_seen.visible_until is null or last_seen.visible_until > snapshot_dates.snapshot_date)
    group by last_seen.customer_id, snapshot_dates.snapshot_date

),

joined as (

    select
        spine.customer_id,
        spine.snapshot_date,
        {{ dbt.datediff('accounts.signup_date', 'spine.snapshot_date', 'day') }} as tenure_days,
        coalesce(active_days.active_days_30d, 0) as active_days_30d,
        {%- for base, event_type, is_measure in bases %}
        coalesce(windows.{{ base }}_30d, 0) as {{ base }}_30d,
        coalesce(windows.{{ base }}_prev_30d, 0) as {{ base }}_prev_30d,
        {%- endfor %}
        {%- for event_type in event_types %}
        recency.last_{{ event_type['name'] }}_date,
        {%- endfor %}
        recency.last_events_date

    from spine
    inner join accounts on spine.customer_id = accounts.customer_id
    left join windows
        on spine.customer_id = windows.customer_id
        and spine.snapshot_date = windows.snapshot_date
    left join active_days
        on spine.customer_id = active_days.customer_id
        and spine.snapshot_date = active_days.snapshot_date
    left join recency
        on spine.customer_id = recency.customer_id
        and spine.snapshot_date = recency.snapshot_date

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(snapshot_date as date) as snapshot_date
        {%- for f in features %},
        {%- set b = f['base'] %}
        {%- set number = type_double() if f['is_measure'] else dbt.type_int() %}
        {%- if f['kind'] == 'count_30d' %}
        cast({{ b }}_30d as {{ number }})
        {%- elif f['kind'] == 'count_prev_30d' %}
        cast({{ b }}_prev_30d as {{ number }})
        {%- elif f['kind'] == 'change_pct' %}
        cast(
            case
                when {{ b }}_prev_30d > 0
                    then 100 * cast({{ b }}_30d - {{ b }}_prev_30d as {{ type_double() }}) / {{ b }}_prev_30d
            end
            as {{ type_double() }}
        )
        {%- elif f['kind'] == 'days_since_last' %}
        cast(
            case
                when {{ dbt.datediff('last_' ~ b ~ '_date', 'snapshot_date', 'day') }}
                    <= {{ var('recency_window_days', 60) }}
                    then {{ dbt.datediff('last_' ~ b ~ '_date', 'snapshot_date', 'day') }}
            end
            as {{ dbt.type_int() }}
        )
        {%- elif f['kind'] == 'per_active_day' %}
        cast(
            case when active_days_30d > 0 then cast({{ b }}_30d as {{ type_double() }}) / active_days_30d end
            as {{ type_double() }}
        )
        {%- elif f['kind'] == 'active_days' %}
        cast(active_days_30d as {{ dbt.type_int() }})
        {%- elif f['kind'] == 'tenure_scaled' %}
        cast(
            case
                when tenure_days >= 30 then cast(events_30d as {{ type_double() }})
                when tenure_days > 0 then cast(events_30d as {{ type_double() }}) * 30 / tenure_days
            end
            as {{ type_double() }}
        )
        {%- else %}
        {{ exceptions.raise_compiler_error("fct_behaviour_features: no SQL for feature kind " ~ f['kind']) }}
        {%- endif %} as {{ f['name'] }}
        {%- endfor %}

    from joined

)

select * from final
