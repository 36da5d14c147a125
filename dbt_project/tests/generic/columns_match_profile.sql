{#- A model whose columns are made from the company profile cannot carry an enforced contract (its column list
    changes with --vars), so this test checks it instead: the relation's columns must be exactly
    `leading_columns` followed by the list in var `profile_var` (taking `key` of each item when the items are
    dicts), in that order. The expected list comes from Python (CompanyProfile.dbt_vars), the columns from the
    Jinja that built the model, so the two implementations of the naming contract are held together.
    One failing row per problem: a missing column, an unexpected one, or the first position where the order
    differs. -#}
{% test columns_match_profile(model, profile_var, leading_columns=[], key=none) %}
    {%- set items = var(profile_var) -%}
    {%- set expected = leading_columns + ((items | map(attribute=key) | list) if key else (items | list)) -%}
    {%- set actual = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(model) -%}
            {%- do actual.append(column.name | lower) -%}
        {%- endfor -%}
    {%- else -%}
        {%- set actual = expected -%}
    {%- endif -%}
    {%- set problems = [] -%}
    {%- for name in expected if name not in actual -%}
        {%- do problems.append(('missing', name)) -%}
    {%- endfor -%}
    {%- for name in actual if name not in expected -%}
        {%- do problems.append(('unexpected', name)) -%}
    {%- endfor -%}
    {%- if not problems and actual != expected -%}
        {%- for i in range(expected | length) if actual[i] != expected[i] -%}
            {%- if loop.first -%}
                {%- do problems.append(('out of order at position ' ~ (i + 1) ~ ', expected ' ~ expected[i], actual[i])) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if problems -%}
        {%- for problem, name in problems %}
    select '{{ problem }}' as problem, '{{ name }}' as column_name
            {%- if not loop.last %} union all{% endif -%}
        {%- endfor %}
    {%- else %}
    select 'none' as problem, 'none' as column_name from {{ model }} where 1 = 0
    {%- endif %}
{% endtest %}
