{#- The continuous percentile of a column within a group (a median is fraction 0.5), nulls
    ignored: percentile_cont ... within group on Snowflake (and the default), DuckDB's
    quantile_cont. -#}
{% macro percentile_cont(column, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile_cont(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}
