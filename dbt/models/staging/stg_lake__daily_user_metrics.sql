with

daily_user_metrics as (

    select * from {{ source('lake', 'daily_user_metrics') }}

),

renamed as (

    select
        dt as activity_date,
        user_key,
        user_id,
        sessions,
        events as total_events,
        page_views,
        add_to_carts,
        purchases,
        revenue as total_revenue,
        total_duration_seconds,
        bounces,
        first_session_start as first_session_started_at

    from daily_user_metrics

)

select * from renamed
