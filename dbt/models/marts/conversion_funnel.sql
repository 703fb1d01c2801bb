{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['funnel_date', 'device', 'is_bot'],
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.funnel_date')],
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

counted as (

    select
        session_date as funnel_date,
        device,
        is_bot,
        count(*) as sessions,
        sum(case when has_product_view then 1 else 0 end) as product_view_sessions,
        sum(case when has_add_to_cart then 1 else 0 end) as add_to_cart_sessions,
        sum(case when has_begin_checkout then 1 else 0 end) as begin_checkout_sessions,
        sum(case when has_purchase then 1 else 0 end) as purchase_sessions

    from sessions

    group by session_date, device, is_bot

),

final as (

    select
        funnel_date,
        device,
        is_bot,
        sessions,
        product_view_sessions,
        add_to_cart_sessions,
        begin_checkout_sessions,
        purchase_sessions,
        {{ safe_divide('product_view_sessions', 'sessions') }} as product_view_rate,
        {{ safe_divide('add_to_cart_sessions', 'sessions') }} as add_to_cart_rate,
        {{ safe_divide('begin_checkout_sessions', 'sessions') }} as begin_checkout_rate,
        {{ safe_divide('purchase_sessions', 'sessions') }} as conversion_rate

    from counted

)

select * from final
