with

sessions as (

    select * from {{ ref('int_sessions_flagged') }}

),

aggregated as (

    select
        user_key,
        max(user_id) as user_id,
        {{ dbt.bool_or('is_bot') }} as is_bot,
        min(session_started_at) as first_seen_at,
        max(session_ended_at) as last_seen_at,
        count(*) as lifetime_sessions,
        sum(purchases) as lifetime_orders,
        cast(sum(revenue) as {{ money_type() }}) as lifetime_revenue

    from sessions

    group by user_key

)

select * from aggregated
