{#- Every platform's campaign rows in one table, with the columns (names, order, grain) of
    Fivetran's ad_reporting__campaign_report, plus currency: money stays in the account's
    currency, and nothing here sums across accounts. -#}
with

unioned as (

    select * from {{ ref('stg_google_ads__campaign_daily') }}
    union all
    select * from {{ ref('stg_meta_ads__campaign_daily') }}

),

final as (

    select
        date_day,
        platform,
        account_id,
        account_name,
        campaign_id,
        campaign_name,
        clicks,
        impressions,
        spend,
        conversions,
        conversions_value,
        currency

    from unioned

)

select * from final
