{#- The calendar day, in time zone `zone` (an IANA name: a literal or a column), of a timestamp
    holding UTC (the warehouse keeps every timestamp as UTC without a zone: TIMESTAMP on DuckDB,
    TIMESTAMP_NTZ on Snowflake). Daylight saving is the database's: ICU on DuckDB. -#}
{% macro local_date(timestamp_utc, zone) -%}
    {{ return(adapter.dispatch('local_date')(timestamp_utc, zone)) }}
{%- endmacro %}

{% macro default__local_date(timestamp_utc, zone) -%}
    cast(convert_timezone('UTC', {{ zone }}, {{ timestamp_utc }}) as date)
{%- endmacro %}

{% macro duckdb__local_date(timestamp_utc, zone) -%}
    cast(timezone({{ zone }}, timezone('UTC', {{ timestamp_utc }})) as date)
{%- endmacro %}
