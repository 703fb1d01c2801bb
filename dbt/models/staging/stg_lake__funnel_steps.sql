with

funnel as (

    select * from {{ source('lake', 'funnel') }}

),

renamed as (

    select
        dt as funnel_date,
        device,
        is_bot,
        step_number,
        step,
        sessions

    from funnel

)

select * from renamed
