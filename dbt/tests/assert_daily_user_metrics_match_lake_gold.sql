-- agg_daily_user_metrics sums the same sessions as the lake's gold daily_user_metrics.
select
    coalesce(marts.activity_date, gold.activity_date) as activity_date,
    coalesce(marts.user_key, gold.user_key) as user_key
from {{ ref('agg_daily_user_metrics') }} as marts
full outer join {{ ref('stg_lake__daily_user_metrics') }} as gold
    on gold.activity_date = marts.activity_date
    and gold.user_key = marts.user_key
where marts.user_key is null
    or gold.user_key is null
    or marts.sessions <> gold.sessions
    or marts.total_events <> gold.total_events
    or marts.page_views <> gold.page_views
    or marts.add_to_carts <> gold.add_to_carts
    or marts.purchases <> gold.purchases
    or marts.total_revenue <> gold.total_revenue
