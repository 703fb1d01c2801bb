{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['revenue_date', 'currency'],
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.revenue_date')],
        on_schema_change='fail',
    )
}}

with

loaded_days as (

    {#- A day is loaded once the warehouse holds its partition of silver events: the loader
        replaces a day's events, sessions and product interactions together, and events are
        the partition every other one is derived from. A loaded day gets a row even when
        nothing was sold. -#}
    select distinct batch_date as revenue_date
    from {{ ref('stg_watershed__events') }}
    {% if is_incremental() %}
    where {{ in_window('batch_date') }}
    {% endif %}

),

transactions as (

    {#- By the day the purchase or refund occurred, whichever partition (session day) holds it. -#}
    select * from {{ ref('stg_watershed__events') }}
    where event_type in ('purchase', 'refund')
    {% if is_incremental() %}
        and {{ in_window('event_date') }}
    {% endif %}

),

daily as (

    {#- Money is never summed across currencies: one row per day and currency. -#}
    select
        event_date,
        currency,
        sum(case when event_type = 'purchase' then 1 else 0 end) as orders,
        sum(case when event_type = 'purchase' then revenue else 0 end) as revenue,
        sum(case when event_type = 'refund' then 1 else 0 end) as refunds,
        sum(case when event_type = 'refund' then revenue else 0 end) as refunded

    from transactions

    group by event_date, currency

),

final as (

    select
        loaded_days.revenue_date,
        daily.currency,
        coalesce(daily.orders, 0) as orders,
        cast(coalesce(daily.revenue, 0) as {{ money_type() }}) as revenue,
        coalesce(daily.refunds, 0) as refunds,
        cast(coalesce(daily.refunded, 0) as {{ money_type() }}) as refunded,
        cast(coalesce(daily.revenue, 0) - coalesce(daily.refunded, 0) as {{ money_type() }}) as net_revenue,
        {{ money_per('daily.revenue', 'daily.orders') }} as avg_order_value

    from loaded_days
    left join daily
        on daily.event_date = loaded_days.revenue_date

)

select * from final
