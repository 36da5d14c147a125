-- Customer x day x event type: the only model that reads the events, so every behaviour feature downstream
-- works on (much narrower) daily rows instead of re-scanning raw events. measure_total sums the measure of
-- the event types that have one (var event_types: duration_seconds for `seconds`, value for `value`).
{%- set measured = [] -%}
{%- for event_type in var('event_types') if event_measure(event_type) -%}
    {%- do measured.append(event_type) -%}
{%- endfor %}
with

events as (

    select
        customer_id,
        event_date,
        event_type,
        {%- if measured %}
        case
            {%- for event_type in measured %}
            when event_type = '{{ event_type["name"] }}'
                then cast({{ event_measure_column(event_type['measure']) }} as {{ type_double() }})
            {%- endfor %}
        end as measure
        {%- else %}
        cast(null as {{ type_double() }}) as measure
        {%- endif %}

    from {{ ref('stg_usage_events') }}

),

final as (

    select
        customer_id,
        event_date as activity_date,
        event_type,
        cast(count(*) as {{ dbt.type_int() }}) as events,
        cast(sum(measure) as {{ type_double() }}) as measure_total

    from events
    group by customer_id, event_date, event_type

)

select * from final
