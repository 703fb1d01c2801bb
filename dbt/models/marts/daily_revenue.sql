{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key='revenue_date',
        incremental_predicates=[in_window('DBT_INTERNAL_DEST.revenue_date')],
        on_schema_change='fail',
    )
}}

with

loaded_days as (

    {#- One row per day loaded (the lake's gold daily_revenue has one even without orders): a
        day gets a row, with zeros when nothing was sold, once its partition is loaded. -#}
    select revenue_date from {{ ref('stg_lake__daily_revenue') }}
    {% if is_incremental() %}
    where {{ in_window('revenue_date') }}
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

    select
        event_date,
        sum(case when event_type = 'purchase' then 1 else 0 end) as orders,
        sum(case when event_type = 'purchase' then revenue else 0 end) as revenue,
        sum(case when event_type = 'refund' then 1 else 0 end) as refunds,
        sum(case when event_type = 'refund' then revenue else 0 end) as refunded,
        min(currency) as currency,
        count(distinct currency) as currencies

    from transactions

    group by event_date

),

final as (

    select
        loaded_days.revenue_date,
        coalesce(daily.orders, 0) as orders,
        cast(coalesce(daily.revenue, 0) as {{ money_type() }}) as revenue,
        coalesce(daily.refunds, 0) as refunds,
        cast(coalesce(daily.refunded, 0) as {{ money_type() }}) as refunded,
        cast(coalesce(daily.revenue, 0) - coalesce(daily.refunded, 0) as {{ money_type() }}) as net_revenue,
        {{ money_per('daily.revenue', 'daily.orders') }} as avg_order_value,
        daily.currency,
        coalesce(daily.currencies, 0) as currencies

    from loaded_days
    left join daily
        on daily.event_date = loaded_days.revenue_date

)

select * from final
