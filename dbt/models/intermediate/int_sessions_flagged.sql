{#- The funnel's steps, defined once: a session reaches a step when it has at least one event of
    that step (the generator's ground truth counts the same way). -#}
with

sessions as (

    select * from {{ ref('stg_lake__sessions') }}

),

flagged as (

    select
        *,
        product_views > 0 as has_product_view,
        add_to_carts > 0 as has_add_to_cart,
        begin_checkouts > 0 as has_begin_checkout,
        purchases > 0 as has_purchase

    from sessions

)

select * from flagged
