-- Money is never summed across currencies. daily_revenue has one row per currency; the marts
-- below sum amounts without a currency column, because the shop sells in one currency (the
-- contract's SHOP_CURRENCY, USD): fct_sessions.revenue (a session's purchases),
-- agg_daily_user_metrics.total_revenue and avg_order_value (a user's sessions of a day),
-- dim_users.lifetime_revenue and its high_value segment (all of a user's sessions) and
-- product_performance.revenue (a product's order lines of a day, summed by the lake's gold).
-- Each row returned is a row of one of them whose amounts would be in more than one currency:
-- the build fails (severity error) instead of adding dollars to euros. The fix is then to give
-- that mart a currency column, as daily_revenue has.
-- Order lines carry no currency of their own and are not in the warehouse, so for
-- product_performance a row is flagged when its day's purchases are in more than one currency
-- (the product's own lines might all be in one: this errs on the side of failing).
with

purchases as (

    select session_id, user_key, event_date, currency
    from {{ ref('fct_user_events') }}
    where event_type = 'purchase'

),

sessions as (

    select session_id, session_date, user_key from {{ ref('fct_sessions') }}

),

session_purchases as (

    select sessions.session_id, sessions.session_date, sessions.user_key, purchases.currency
    from purchases
    inner join sessions
        on sessions.session_id = purchases.session_id

),

mixed_sessions as (

    select
        'fct_sessions' as mart,
        session_date as row_date,
        session_id as row_key,
        count(distinct currency) as currencies
    from session_purchases
    group by session_date, session_id
    having count(distinct currency) > 1

),

mixed_user_days as (

    select
        'agg_daily_user_metrics' as mart,
        user_days.activity_date as row_date,
        user_days.user_key as row_key,
        count(distinct session_purchases.currency) as currencies
    from {{ ref('agg_daily_user_metrics') }} as user_days
    inner join session_purchases
        on session_purchases.session_date = user_days.activity_date
        and session_purchases.user_key = user_days.user_key
    group by user_days.activity_date, user_days.user_key
    having count(distinct session_purchases.currency) > 1

),

mixed_users as (

    select
        'dim_users' as mart,
        cast(null as date) as row_date,
        users.user_key as row_key,
        count(distinct session_purchases.currency) as currencies
    from {{ ref('dim_users') }} as users
    inner join session_purchases
        on session_purchases.user_key = users.user_key
    group by users.user_key
    having count(distinct session_purchases.currency) > 1

),

mixed_days as (

    select event_date, count(distinct currency) as currencies
    from purchases
    group by event_date
    having count(distinct currency) > 1

),

mixed_products as (

    select
        'product_performance' as mart,
        products.activity_date as row_date,
        products.product_id as row_key,
        mixed_days.currencies
    from {{ ref('product_performance') }} as products
    inner join mixed_days
        on mixed_days.event_date = products.activity_date
    where products.purchases > 0

)

select * from mixed_sessions
union all
select * from mixed_user_days
union all
select * from mixed_users
union all
select * from mixed_products
