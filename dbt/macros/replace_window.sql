{#- Incremental strategy `replace_window`: the rows of the window are replaced as a whole.

    1. delete the target's rows inside the window (the model's incremental_predicates, written
       with in_window('DBT_INTERNAL_DEST.<date column>')), so a row that disappeared upstream
       (a session whose id changed after late events) disappears here too;
    2. delete the target's rows whose unique_key is among the new rows, wherever they are, so a
       key that moved to another day is never kept twice. Keys are compared with `=` (a plain
       equi-join, which both warehouses hash), so a null key column never matches here: a mart
       whose key may hold a null puts its window's date column in the key, and step 1 replaces
       those rows (daily_revenue: [revenue_date, currency], currency null on a day without a
       transaction; tests/warehouse/test_dbt_project.py rebuilds such a day);
    3. insert the new rows.

    dbt-duckdb runs the statements inside the model's transaction; on Snowflake they are wrapped
    in an explicit one. Both adapters stage the new rows in a table first, so every statement
    sees the same rows. -#}

{% macro get_incremental_replace_window_sql(arg_dict) %}
    {{ return(adapter.dispatch('replace_window_sql', 'watershed')(arg_dict)) }}
{% endmacro %}


{% macro default__replace_window_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set predicates = arg_dict['incremental_predicates'] -%}
    {%- if not predicates -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'replace_window' needs incremental_predicates: the window to replace, e.g. [in_window('DBT_INTERNAL_DEST.event_date')]") }}
    {%- endif -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'replace_window' needs a unique_key") }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}

    delete from {{ target }} as DBT_INTERNAL_DEST
    where {{ predicates | join(' and ') }};

    delete from {{ target }} as DBT_INTERNAL_DEST
    using {{ source }} as DBT_INTERNAL_SOURCE
    where {% for key in keys %}DBT_INTERNAL_DEST.{{ key }} = DBT_INTERNAL_SOURCE.{{ key }}{{ ' and ' if not loop.last }}{% endfor %};

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
{% endmacro %}


{% macro snowflake__replace_window_sql(arg_dict) %}
    {{ return(snowflake_dml_explicit_transaction(default__replace_window_sql(arg_dict))) }}
{% endmacro %}
