{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key='event_id',
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.batch_date')],
        on_schema_change='fail',
    )
}}

with

events as (

    select * from {{ ref('stg_watershed__events') }}
    {% if is_incremental() %}
    where {{ in_window('batch_date') }}
    {% endif %}

),

final as (

    select
        event_id,
        event_type,
        event_source,
        user_key,
        user_id,
        anonymous_id,
        session_id,
        occurred_at,
        received_at,
        event_date,
        batch_date,
        page_url,
        referrer,
        device,
        country_code,
        product_id,
        price,
        quantity,
        currency,
        order_id,
        revenue,
        campaign_id,
        ad_platform,
        ad_id,
        ad_cost,
        conversion_value,
        is_bot

    from events

)

select * from final
