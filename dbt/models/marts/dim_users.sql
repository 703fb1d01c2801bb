{#- The current users: the latest snapshot of dim_users_daily, in dim_users' columns. A run for
    day D changes it only when D's window holds the latest snapshot day: a backfill of an older
    day leaves it as it is. -#}
with

snapshots as (

    select * from {{ ref('dim_users_daily') }}

),

latest as (

    select max(as_of_date) as as_of_date
    from snapshots

),

final as (

    select
        snapshots.user_key,
        snapshots.user_id,
        snapshots.is_identified,
        snapshots.is_bot,
        snapshots.first_seen_at,
        snapshots.last_seen_at,
        snapshots.lifetime_sessions,
        snapshots.lifetime_orders,
        snapshots.lifetime_revenue,
        snapshots.segment,
        snapshots.is_active,
        snapshots.as_of_date

    from snapshots
    inner join latest
        on latest.as_of_date = snapshots.as_of_date

)

select * from final
