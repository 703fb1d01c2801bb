{#- A field of a nested column: the contract's geo struct is a DuckDB STRUCT locally and a
    VARIANT in Snowflake (the loader keeps nested Parquet columns nested). -#}
{% macro struct_field(column, field) -%}
    {{ return(adapter.dispatch('struct_field', 'watershed')(column, field)) }}
{%- endmacro %}

{% macro default__struct_field(column, field) -%}
    {{ column }}.{{ field }}
{%- endmacro %}

{% macro duckdb__struct_field(column, field) -%}
    struct_extract({{ column }}, '{{ field }}')
{%- endmacro %}

{% macro snowflake__struct_field(column, field) -%}
    {{ column }}:{{ field }}::varchar
{%- endmacro %}
