{#- Shared arithmetic of the marts, the same on every warehouse. -#}

{#- A double-precision float: dbt.type_float() is `float` on DuckDB, a 4-byte REAL that keeps
    about 7 digits (1/29 became 0.0344827584...), and FLOAT, already 8 bytes, on Snowflake. -#}
{% macro float_type() -%}
    {{ return(adapter.dispatch('float_type')()) }}
{%- endmacro %}

{% macro default__float_type() -%}
    {{ dbt.type_float() }}
{%- endmacro %}

{% macro duckdb__float_type() -%}
    double
{%- endmacro %}


{#- numerator / denominator as a float; null when the denominator is 0 or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else cast({{ numerator }} as {{ float_type() }}) / {{ denominator }}
    end
{%- endmacro %}


{#- An amount of money: decimal(18, 2), the contract's type for prices and revenue. -#}
{% macro money_type() -%}
    decimal(18, 2)
{%- endmacro %}


{#- amount / count rounded to cents (half away from zero); null when the count is 0. -#}
{% macro money_per(amount, count) -%}
    case
        when {{ count }} is null or {{ count }} = 0 then null
        else cast(round({{ amount }} / {{ count }}, 2) as {{ money_type() }})
    end
{%- endmacro %}
