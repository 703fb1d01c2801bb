{#- The users as of the end of each session day D, from the sessions of days <= D only
    (int_users_aggregated), so rebuilding D (a backfill) gives the same rows whatever was loaded
    after D. Incremental, but a snapshot depends on every day before it, so a run replaces the
    snapshots from its window's first day to the latest: a backfill of an old day also rebuilds
    the later snapshots it changes (a daily run of the latest day rebuilds just its window). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['as_of_date', 'user_key'],
        incremental_predicates=[from_window_start('DBT_INTERNAL_DEST.as_of_date')],
        on_schema_change='fail',
    )
}}

with

users as (

    select * from {{ ref('int_users_aggregated') }}
    {% if is_incremental() %}
    where {{ from_window_start('as_of_date') }}
    {% endif %}

),

final as (

    select
        as_of_date,
        user_key,
        user_id,
        user_id is not null as is_identified,
        is_bot,
        first_seen_at,
        last_seen_at,
        lifetime_sessions,
        lifetime_orders,
        lifetime_revenue,
        case
            when is_bot then 'bot'
            when lifetime_revenue >= {{ var('high_value_revenue') }} then 'high_value'
            when lifetime_orders >= 2 then 'repeat_buyer'
            when lifetime_orders = 1 then 'one_time_buyer'
            else 'browser'
        end as segment,
        {{ dbt.datediff('cast(last_seen_at as date)', 'as_of_date', 'day') }}
            < {{ var('active_window_days') }} as is_active

    from users

)

select * from final
