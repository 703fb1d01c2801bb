{#- Every platform's campaign rows in one table, with the columns (names, order, grain) of
    Fivetran's ad_reporting__campaign_report, money in the reporting currency (var
    reporting_currency), then each account's own: its currency and time zone, the rate of the
    day, spend and conversions value as the platform reported them. date_day stays the account's
    day (the platforms report no finer grain). A currency without a rate for the day leaves
    exchange_rate null, which fails the build (its not_null test) rather than drop the row. -#}
{%- set reporting = var('reporting_currency') %}
with

unioned as (

    select * from {{ ref('stg_google_ads__campaign_daily') }}
    union all
    select * from {{ ref('stg_meta_ads__campaign_daily') }}

),

rates as (

    select
        from_currency,
        valid_from,
        lead(valid_from) over (partition by from_currency order by valid_from) as valid_until,
        rate

    from {{ ref('currency_rates') }}
    where to_currency = '{{ reporting }}'

),

converted as (

    select
        unioned.*,
        case when unioned.currency = '{{ reporting }}' then 1 else rates.rate end as exchange_rate

    from unioned
    left join rates
        on rates.from_currency = unioned.currency
        and unioned.date_day >= rates.valid_from
        and (rates.valid_until is null or unioned.date_day < rates.valid_until)

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
        cast(spend * exchange_rate as decimal(18, 6)) as spend,
        conversions,
        cast(conversions_value * exchange_rate as {{ money_type() }}) as conversions_value,
        '{{ reporting }}' as currency,
        currency as account_currency,
        time_zone as account_time_zone,
        exchange_rate,
        spend as account_spend,
        conversions_value as account_conversions_value

    from converted

)

select * from final
