with

sessions as (

    select * from {{ source('lake', 'sessions') }}

),

renamed as (

    select
        session_id,
        user_key,
        user_id,
        anonymous_id,
        session_start as session_started_at,
        session_end as session_ended_at,
        dt as session_date,
        duration_seconds,
        event_count,
        unique_pages,
        page_views,
        product_views,
        add_to_carts,
        begin_checkouts,
        purchases,
        revenue,
        entry_page,
        exit_page,
        coalesce(device, 'unknown') as device,
        is_bounce,
        coalesce(is_bot, false) as is_bot

    from sessions

)

select * from renamed
