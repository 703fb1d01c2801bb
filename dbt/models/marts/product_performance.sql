{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['activity_date', 'product_id'],
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.activity_date')],
        on_schema_change='fail',
    )
}}

with

product_days as (

    select * from {{ ref('stg_lake__product_interactions') }}
    {% if is_incremental() %}
    where {{ in_window('activity_date') }}
    {% endif %}

),

final as (

    select
        activity_date,
        product_id,
        product_views,
        add_to_carts,
        purchases,
        units_purchased,
        revenue,
        {{ money_per('revenue', 'units_purchased') }} as avg_unit_price,
        {{ safe_divide('add_to_carts', 'product_views') }} as view_to_cart_rate,
        {{ safe_divide('purchases', 'add_to_carts') }} as cart_to_purchase_rate

    from product_days

)

select * from final
