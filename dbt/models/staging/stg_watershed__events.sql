with

events as (

    select * from {{ source('watershed', 'events') }}

),

renamed as (

    select
        event_id,
        event_type,
        schema_version,
        source as event_source,
        user_key,
        user_id,
        anonymous_id,
        session_id,
        session_start as session_started_at,
        occurred_at,
        received_at,
        ingested_at,
        cast(occurred_at as date) as event_date,
        dt as batch_date,
        page_url,
        referrer,
        device,
        {{ struct_field('geo', 'country') }} as country_code,
        product_id,
        price,
        quantity,
        currency,
        order_id,
        revenue,
        campaign_id,
        platform as ad_platform,
        ad_id,
        cost as ad_cost,
        value as conversion_value,
        is_bot

    from events

)

select * from renamed
