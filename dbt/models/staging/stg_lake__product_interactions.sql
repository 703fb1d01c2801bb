with

product_interactions as (

    select * from {{ source('lake', 'product_interactions') }}

),

renamed as (

    select
        dt as activity_date,
        product_id,
        views as product_views,
        add_to_carts,
        purchases,
        units_purchased,
        revenue

    from product_interactions

)

select * from renamed
