{#- A 64-bit floating point type. dbt.type_float() is a 32-bit REAL on DuckDB, too coarse for money and
    percentages, so the marts cast to this instead. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{% macro postgres__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro bigquery__type_double() -%}
    {{ return('float64') }}
{%- endmacro %}
