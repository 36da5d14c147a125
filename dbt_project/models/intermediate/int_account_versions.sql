-- Every delivered version of each account with the interval in which it is the version in force: a snapshot S
-- sees the version whose updated_at lies strictly before S (the latest such), or the first version when none
-- does (the account's first export came after S). The macro account_version_in_force() applies the rule.
with

versions as (

    select * from {{ ref('stg_account_versions') }}

),

ordered as (

    select
        versions.*,
        row_number() over (partition by customer_id order by updated_at) as version_number,
        lead(updated_at) over (partition by customer_id order by updated_at) as next_updated_at

    from versions

),

final as (

    select
        ordered.*,
        case when version_number > 1 then updated_at end as in_force_from,
        next_updated_at as in_force_until,
        next_updated_at is null as is_latest_version

    from ordered

)

select * from final
