{#- The bit of a feature in the per-day feature bitmask, so distinct features over any window are the
    popcount of a bit_or instead of a count(distinct) over raw events. -#}
{% macro feature_bit(column) -%}
    case {{ column }}
    {%- for feature in var('usage_features') %}
        when '{{ feature }}' then {{ 2 ** loop.index0 }}
    {%- endfor %}
        else 0
    end
{%- endmacro %}
