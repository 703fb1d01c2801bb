{#- Spend against the shop's own numbers, per campaign and day. The platforms report
    conversions and their value (ad_reporting__campaign_report); the shop knows which orders
    really happened: a conversion event (sent by the platform to the collector) names the
    campaign and the order, and the shop's purchase of that order (fct_user_events) gives its
    revenue. ROAS by each, and the gap between them.

    The day is the conversion's (UTC); the report's is the account's day (docs/ads.md: every
    account here reports in UTC). An order counts once per campaign and day however many
    conversion events name it. -#}
with

report as (

    select
        date_day,
        platform,
        campaign_id,
        max(account_id) as account_id,
        max(currency) as currency,
        sum(spend) as spend,
        sum(conversions) as reported_conversions,
        sum(conversions_value) as reported_conversions_value

    from {{ ref('ad_reporting__campaign_report') }}
    group by date_day, platform, campaign_id

),

conversions as (

    select distinct
        cast(occurred_at as date) as date_day,
        ad_platform as platform,
        campaign_id,
        order_id

    from {{ ref('fct_user_events') }}
    where event_type = 'conversion' and order_id is not null

),

orders as (

    select order_id, max(revenue) as revenue, max(currency) as currency
    from {{ ref('fct_user_events') }}
    where event_type = 'purchase'
    group by order_id

),

attributed as (

    select
        conversions.date_day,
        conversions.platform,
        conversions.campaign_id,
        count(orders.order_id) as shop_orders,
        sum(orders.revenue) as shop_revenue,
        max(orders.currency) as shop_currency

    from conversions
    inner join orders
        on orders.order_id = conversions.order_id
    group by conversions.date_day, conversions.platform, conversions.campaign_id

),

final as (

    select
        coalesce(report.date_day, attributed.date_day) as date_day,
        coalesce(report.platform, attributed.platform) as platform,
        report.account_id,
        coalesce(report.campaign_id, attributed.campaign_id) as campaign_id,
        coalesce(report.currency, attributed.shop_currency) as currency,
        coalesce(report.spend, 0) as spend,
        coalesce(report.reported_conversions, 0) as reported_conversions,
        coalesce(report.reported_conversions_value, 0) as reported_conversions_value,
        coalesce(attributed.shop_orders, 0) as shop_orders,
        cast(coalesce(attributed.shop_revenue, 0) as {{ money_type() }}) as shop_revenue,
        {{ safe_divide('report.reported_conversions_value', 'report.spend') }} as reported_roas,
        {{ safe_divide('coalesce(attributed.shop_revenue, 0)', 'report.spend') }} as shop_roas,
        coalesce(report.reported_conversions, 0) - coalesce(attributed.shop_orders, 0) as conversions_gap,
        coalesce(report.reported_conversions_value, 0) - coalesce(attributed.shop_revenue, 0) as value_gap

    from report
    full outer join attributed
        on attributed.date_day = report.date_day
        and attributed.platform = report.platform
        and attributed.campaign_id = report.campaign_id

)

select * from final
