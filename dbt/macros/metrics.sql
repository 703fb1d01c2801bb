{#- Shared arithmetic of the marts, the same on every warehouse. -#}

{#- numerator / denominator as a float; null when the denominator is 0 or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else cast({{ numerator }} as {{ dbt.type_float() }}) / {{ denominator }}
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
