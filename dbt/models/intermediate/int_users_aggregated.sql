{#- Per as-of day and user_key: the user's sessions of the session days up to as_of_date summed,
    for every session day loaded (as_of_date) and every user seen by then (no row before the
    user's first session day). A row of as_of_date D reads sessions of days <= D only, so a later
    day loaded never changes it.

    No users x days cross join: each user-day of int_user_days_aggregated gets its running totals
    (windows up to and including that day), which hold from that day until the day before the
    user's next session day; the as-of days are joined to that range. -#}
{%- set up_to_the_day -%}
    over (partition by user_key order by activity_date rows between unbounded preceding and current row)
{%- endset %}

with

user_days as (

    select * from {{ ref('int_user_days_aggregated') }}

),

as_of_days as (

    select distinct activity_date as as_of_date
    from user_days

),

running as (

    select
        user_key,
        activity_date,
        lead(activity_date) over (partition by user_key order by activity_date) as next_activity_date,
        max(user_id) {{ up_to_the_day }} as user_id,
        max(case when is_bot then 1 else 0 end) {{ up_to_the_day }} = 1 as is_bot,
        min(first_seen_at) {{ up_to_the_day }} as first_seen_at,
        max(last_seen_at) {{ up_to_the_day }} as last_seen_at,
        cast(sum(sessions) {{ up_to_the_day }} as {{ dbt.type_bigint() }}) as lifetime_sessions,
        sum(purchases) {{ up_to_the_day }} as lifetime_orders,
        cast(sum(total_revenue) {{ up_to_the_day }} as {{ money_type() }}) as lifetime_revenue

    from user_days

),

aggregated as (

    select
        as_of_days.as_of_date,
        running.user_key,
        running.user_id,
        running.is_bot,
        running.first_seen_at,
        running.last_seen_at,
        running.lifetime_sessions,
        running.lifetime_orders,
        running.lifetime_revenue

    from running
    inner join as_of_days
        on as_of_days.as_of_date >= running.activity_date
        and (running.next_activity_date is null or as_of_days.as_of_date < running.next_activity_date)

)

select * from aggregated
