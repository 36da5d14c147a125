-- One row per support ticket with its lifecycle: opened, resolved, how long it took, escalated.
with

tickets as (

    select * from {{ ref('stg_support_tickets') }}

),

final as (

    select
        ticket_id,
        customer_id,
        opened_at,
        resolved_at,
        cast(opened_at as date) as opened_date,
        resolved_at is not null as is_resolved,
        round(cast({{ dbt.datediff('opened_at', 'resolved_at', 'second') }} as {{ type_double() }}) / 3600, 2)
            as resolution_hours,
        is_escalated,
        priority,
        category,
        satisfaction

    from tickets

)

select * from final
