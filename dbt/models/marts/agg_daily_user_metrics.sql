{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['activity_date', 'user_key'],
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.activity_date')],
        on_schema_change='fail',
    )
}}

with

user_days as (

    select * from {{ ref('int_user_days_aggregated') }}
    {% if is_incremental() %}
    where {{ in_window('activity_date') }}
    {% endif %}

),

final as (

    select
        activity_date,
        user_key,
        user_id,
        is_bot,
        total_events,
        sessions,
        page_views,
        add_to_carts,
        purchases,
        total_revenue,
        {{ money_per('total_revenue', 'purchases') }} as avg_order_value,
        {{ safe_divide('converted_cart_sessions', 'cart_sessions') }} as cart_conversion_rate,
        {{ safe_divide('total_session_seconds', 'sessions') }} as avg_session_duration

    from user_days

)

select * from final
