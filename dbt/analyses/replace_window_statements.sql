{#- What the replace_window incremental strategy runs for one mart (fct_sessions), compiled for
    the current target: `dbt compile --select replace_window_statements` shows it, and the tests
    parse the Snowflake rendering with sqlglot. Running it is never needed. -#}
{%- set target_relation = api.Relation.create(database=target.database, schema='marts', identifier='fct_sessions') -%}
{%- set temp_relation = api.Relation.create(database=target.database, schema='marts', identifier='fct_sessions__dbt_tmp') -%}
{#- column names as the warehouse reports them: Snowflake folds unquoted names to upper case -#}
{%- set names = ['session_id', 'session_date', 'event_count'] -%}
{%- set columns = [] -%}
{%- for name in names -%}
    {%- do columns.append(api.Column.create(name | upper if target.type == 'snowflake' else name, 'varchar')) -%}
{%- endfor -%}
{{ get_incremental_replace_window_sql({
    'target_relation': target_relation,
    'temp_relation': temp_relation,
    'unique_key': 'session_id',
    'dest_columns': columns,
    'incremental_predicates': [in_window('DBT_INTERNAL_DEST.session_date')],
}) }}
