{#- One platform's rows of raw.ad_platform_daily in the column names of Fivetran's ad reporting
    package (date_day, spend, conversions_value), one row per (date_day, account_id, campaign_id):
    the body of every stg_<platform>__campaign_daily model. -#}
{% macro ad_platform_staging(platform) %}
with

source as (

    select * from {{ source('ads', 'ad_platform_daily') }}
    where platform = '{{ platform }}'

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
        time_zone,
        impressions,
        clicks,
        cost as spend,
        cast(conversions as {{ float_type() }}) as conversions,
        conversion_value as conversions_value

    from source

)

select * from renamed
{% endmacro %}
