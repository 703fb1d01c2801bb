{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key='session_id',
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.session_date')],
        on_schema_change='fail',
    )
}}

with

sessions as (

    select * from {{ ref('int_sessions_flagged') }}
    {% if is_incremental() %}
    where {{ in_window('session_date') }}
    {% endif %}

),

final as (

    select
        session_id,
        user_key,
        user_id,
        anonymous_id,
        session_date,
        session_started_at,
        session_ended_at,
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
        device,
        has_product_view,
        has_add_to_cart,
        has_begin_checkout,
        has_purchase,
        is_bounce,
        is_bot

    from sessions

)

select * from final
