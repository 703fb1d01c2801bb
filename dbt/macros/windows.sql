{#- The window an incremental run rebuilds: the days from var('run_date') - var('lookback_days')
    to var('run_date'). Without run_date there is no window: every day loaded is rebuilt. -#}

{% macro window_dates() %}
    {%- set run_date = var('run_date', none) -%}
    {%- if run_date is none or (run_date | string | trim) in ('', 'none', 'None', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = run_date | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var run_date must be a day as YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {%- set lookback = var('lookback_days', 2) | int -%}
    {%- if lookback < 0 -%}
        {{ exceptions.raise_compiler_error("var lookback_days must be >= 0, got " ~ lookback) }}
    {%- endif -%}
    {%- set end = modules.datetime.datetime.strptime(text, '%Y-%m-%d').date() -%}
    {{ return([end - modules.datetime.timedelta(days=lookback), end]) }}
{% endmacro %}


{#- A predicate keeping the rows of `column` (a date) inside the window; `days_before` widens it
    to earlier days (for inputs that feed the window's first day from the day before).
    Always true without a window. -#}
{% macro in_window(column, days_before=0) %}
    {%- set dates = window_dates() -%}
    {%- if dates is none -%}
        1 = 1
    {%- else -%}
        {%- set start = dates[0] - modules.datetime.timedelta(days=days_before) -%}
        {{ column }} between {{ date_literal(start.isoformat()) }} and {{ date_literal(dates[1].isoformat()) }}
    {%- endif -%}
{% endmacro %}


{% macro date_literal(iso_date) -%}
    cast('{{ iso_date }}' as date)
{%- endmacro %}


{#- A predicate keeping the rows of `column` (a date) from the window's first day on, with no
    upper bound: for a model whose rows of a day depend on every day before it (dim_users_daily's
    cumulative snapshots), so a backfill of an old day also rebuilds the later days it changes.
    Always true without a window. -#}
{% macro from_window_start(column) %}
    {%- set dates = window_dates() -%}
    {%- if dates is none -%}
        1 = 1
    {%- else -%}
        {{ column }} >= {{ date_literal(dates[0].isoformat()) }}
    {%- endif -%}
{% endmacro %}
