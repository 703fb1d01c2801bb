{#- Spend against the shop's own numbers, per campaign and day. The platforms report
    conversions and their value (ad_reporting__campaign_report); the shop knows which orders
    really happened: a conversion event (sent by the platform to the collector) names the
    campaign and the order, and the shop's purchase of that order (fct_user_events) gives its
    revenue. ROAS by each, and the gap between them.

    Money is in the reporting currency (the report's, converted at the day's rate; the shop's
    revenue is in the shop's currency, which the tests require to be the same). The day is the
    account's: a conversion counts on its day in the time zone of the account that runs the
    campaign, as the platform counts it (UTC for a campaign no report row names). An order counts
    once per campaign and day however many conversion events name it. -#}
with

report as (

    select
        date_day,
        platform,
        campaign_id,
        max(account_id) as account_id,
        max(currency) as currency,
        max(account_time_zone) as account_time_zone,
        sum(spend) as spend,
        sum(conversions) as reported_conversions,
        sum(conversions_value) as reported_conversions_value

    from {{ ref('ad_reporting__campaign_report') }}
    group by date_day, platform, campaign_id

),

zones as (

    select platform, campaign_id, max(account_time_zone) as time_zone
    from {{ ref('ad_reporting__campaign_report') }}
    group by platform, campaign_id

),

conversions as (

    select distinct
        {{ local_date('events.occurred_at', "coalesce(zones.time_zone, 'UTC')") }} as date_day,
        events.ad_platform as platform,
        events.campaign_id,
        events.order_id

    from {{ ref('fct_user_events') }} as events
    left join zones
        on zones.platform = events.ad_platform
        and zones.campaign_id = events.campaign_id
    where events.event_type = 'conversion' and events.order_id is not null

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
        attributed.shop_currency,
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
