with

daily_revenue as (

    select * from {{ source('lake', 'daily_revenue') }}

),

renamed as (

    select
        dt as revenue_date,
        orders,
        revenue,
        refunds,
        refunded

    from daily_revenue

)

select * from renamed
