-- The company's extra customer attributes (var customer_attributes) as features of every active customer at
-- every snapshot date, at their value on that date: read from the account version in force at S (the latest
-- whose updated_at lies strictly before S, or the first version when none does; int_account_versions).
-- numeric -> a double, categorical -> a string, boolean -> a boolean, date -> the years from it to S
-- (days / 365.25, fractional: a date of birth becomes an age). Columns are named by each attribute's
-- `feature` (churn_platform/profile.py::attribute_features).
{%- set attributes = var('customer_attributes') %}
with

spine as (

    select customer_id, snapshot_date from {{ ref('int_customer_snapshots') }}

),

versions as (

    select * from {{ ref('int_account_versions') }}

),

final as (

    select
        cast(spine.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(spine.snapshot_date as date) as snapshot_date
        {%- for attribute in attributes %},
        {%- set column = 'versions.' ~ adapter.quote(attribute['name']) %}
        {%- if attribute['type'] == 'numeric' %}
        cast({{ column }} as {{ type_double() }})
        {%- elif attribute['type'] == 'categorical' %}
        cast({{ column }} as {{ dbt.type_string() }})
        {%- elif attribute['type'] == 'boolean' %}
        cast({{ column }} as {{ dbt.type_boolean() }})
        {%- elif attribute['type'] == 'date' %}
        cast({{ dbt.datediff(column, 'spine.snapshot_date', 'day') }} as {{ type_double() }}) / 365.25
        {%- else %}
        {{ exceptions.raise_compiler_error("var customer_attributes: attribute " ~ attribute['name']
            ~ " has unknown type " ~ attribute['type'] ~ "; known: numeric, categorical, boolean, date") }}
        {%- endif %} as {{ adapter.quote(attribute['feature']) }}
        {%- endfor %}

    from spine
    inner join versions
        on spine.customer_id = versions.customer_id
        and {{ account_version_in_force('versions', 'spine.snapshot_date') }}

)

select * from final
