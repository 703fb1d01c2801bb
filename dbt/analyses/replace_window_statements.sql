{#- What the replace_window incremental strategy runs for one mart (fct_sessions), compiled for
    the current target: `dbt compile --select replace_window_statements` shows it, and the tests
    parse the Snowflake rendering with sqlglot. Running it is never needed. -#}
{%- set target_relation = api.Relation.create(database=target.database, schema='marts', identifier='fct_sessions') -%}
{%- set temp_relation = api.Relation.create(database=target.database, schema='marts', identifier='fct_sessions__dbt_tmp') -%}
{%- set columns = [api.Column.create('session_id', 'varchar'), api.Column.create('session_date', 'date'), api.Column.create('event_count', 'bigint')] -%}
{{ get_incremental_replace_window_sql({
    'target_relation': target_relation,
    'temp_relation': temp_relation,
    'unique_key': 'session_id',
    'dest_columns': columns,
    'incremental_predicates': [in_window('DBT_INTERNAL_DEST.session_date')],
}) }}
