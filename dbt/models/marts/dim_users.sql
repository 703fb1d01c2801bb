with

users as (

    select * from {{ ref('int_users_aggregated') }}

),

loaded as (

    {#- "Now" is the latest day in the warehouse, never the clock: the same data gives the same table. -#}
    select max(session_date) as as_of_date
    from {{ ref('int_sessions_flagged') }}

),

final as (

    select
        users.user_key,
        users.user_id,
        users.user_id is not null as is_identified,
        users.is_bot,
        users.first_seen_at,
        users.last_seen_at,
        users.lifetime_sessions,
        users.lifetime_orders,
        users.lifetime_revenue,
        case
            when users.is_bot then 'bot'
            when users.lifetime_revenue >= {{ var('high_value_revenue') }} then 'high_value'
            when users.lifetime_orders >= 2 then 'repeat_buyer'
            when users.lifetime_orders = 1 then 'one_time_buyer'
            else 'browser'
        end as segment,
        {{ dbt.datediff('cast(users.last_seen_at as date)', 'loaded.as_of_date', 'day') }}
            < {{ var('active_window_days') }} as is_active,
        loaded.as_of_date

    from users
    cross join loaded

)

select * from final
