with

sessions as (

    select * from {{ ref('int_sessions_flagged') }}

),

aggregated as (

    select
        session_date as activity_date,
        user_key,
        max(user_id) as user_id,
        {{ dbt.bool_or('is_bot') }} as is_bot,
        min(session_started_at) as first_seen_at,
        max(session_ended_at) as last_seen_at,
        count(*) as sessions,
        sum(event_count) as total_events,
        sum(page_views) as page_views,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        cast(sum(revenue) as {{ money_type() }}) as total_revenue,
        sum(duration_seconds) as total_session_seconds,
        sum(case when has_add_to_cart then 1 else 0 end) as cart_sessions,
        sum(case when has_add_to_cart and has_purchase then 1 else 0 end) as converted_cart_sessions

    from sessions

    group by session_date, user_key

)

select * from aggregated
