{#- The account version in force at a snapshot: the latest whose updated_at lies strictly before it, or the
    first version when none does (a customer whose first export came after the snapshot). Versions come from
    int_account_versions, whose in_force_from is null for the first version and in_force_until is the next
    version's updated_at; exactly one version matches per customer and date. -#}
{% macro account_version_in_force(versions, snapshot_date) -%}
    ({{ versions }}.in_force_from is null
        or {{ versions }}.in_force_from < cast({{ snapshot_date }} as {{ dbt.type_timestamp() }}))
    and ({{ versions }}.in_force_until is null
        or {{ versions }}.in_force_until >= cast({{ snapshot_date }} as {{ dbt.type_timestamp() }}))
{%- endmacro %}
