{#- The users as of the end of each session day D, from the sessions of days <= D only
    (int_users_aggregated), so rebuilding D (a backfill) gives the same rows whatever was loaded
    after D. Incremental like the other per-day marts: a run replaces the snapshots of its window. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['as_of_date', 'user_key'],
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.as_of_date')],
        on_schema_change='fail',
    )
}}

with

users as (

    select * from {{ ref('int_users_aggregated') }}
    {% if is_incremental() %}
    where {{ in_window('as_of_date') }}
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
