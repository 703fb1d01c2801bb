-- The warehouse's daily revenue (computed from the events) equals the lake's gold figures
-- (computed by Spark) for every day loaded.
select
    marts.revenue_date,
    marts.orders, gold.orders as gold_orders,
    marts.revenue, gold.revenue as gold_revenue,
    marts.refunds, gold.refunds as gold_refunds,
    marts.refunded, gold.refunded as gold_refunded
from {{ ref('daily_revenue') }} as marts
full outer join {{ ref('stg_lake__daily_revenue') }} as gold
    on gold.revenue_date = marts.revenue_date
where marts.revenue_date is null
    or gold.revenue_date is null
    or marts.orders <> gold.orders
    or marts.revenue <> gold.revenue
    or marts.refunds <> gold.refunds
    or marts.refunded <> gold.refunded
