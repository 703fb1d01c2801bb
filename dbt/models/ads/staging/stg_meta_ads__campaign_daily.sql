{#- Meta Ads's campaign rows of the day in the column names of Fivetran's ad reporting package
    (date_day, spend, conversions_value), one row per (date_day, account_id, campaign_id). -#}
with

source as (

    select * from {{ source('ads', 'ad_platform_daily') }}
    where platform = 'facebook_ads'

),

renamed as (

    select
        "date" as date_day,
        platform,
        account_id,
        account_name,
        campaign_id,
        campaign_name,
        currency,
        impressions,
        clicks,
        cost as spend,
        cast(conversions as {{ float_type() }}) as conversions,
        conversion_value as conversions_value

    from source

)

select * from renamed
