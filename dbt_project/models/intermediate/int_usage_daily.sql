-- Customer x day usage: the only model that reads the events, so every usage feature downstream works
-- on (much narrower) daily rows instead of re-scanning raw events.
with

events as (

    select
        customer_id,
        event_date,
        event_type,
        feature,
        duration_seconds

    from {{ ref('stg_usage_events') }}

),

final as (

    select
        customer_id,
        event_date as activity_date,
        count(*) as events,
        count(*) filter (where event_type = 'login') as logins,
        count(*) filter (where event_type = 'session') as sessions,
        count(*) filter (where event_type = 'feature_use') as feature_uses,
        cast(coalesce(sum(duration_seconds) filter (where event_type = 'session'), 0) as bigint)
            as session_seconds,
        cast(bit_or({{ feature_bit('feature') }}) filter (where event_type = 'feature_use') as integer)
            as feature_mask

    from events
    group by customer_id, event_date

)

select
    *,
    cast(bit_count(coalesce(feature_mask, 0)) as integer) as distinct_features
from final
