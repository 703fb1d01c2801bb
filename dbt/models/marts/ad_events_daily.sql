{#- The ad events the collector received (impressions, clicks and conversions that the ad
    platforms send, deduplicated by event_id in silver), per campaign and the UTC day they
    occurred: the batch side of the live ad counters. The real-time job counts the same events
    into Redis per day (`watershed ad-counters --date`), and `watershed quality stream-vs-batch`
    reports every campaign whose figures differ. Bots are kept: the counters cannot tell them. -#}
with

ad_events as (

    select event_date, ad_platform, campaign_id, event_type, ad_cost, conversion_value
    from {{ ref('fct_user_events') }}
    where event_type in ('impression', 'click', 'conversion') and campaign_id is not null

),

final as (

    select
        event_date as date_day,
        campaign_id,
        max(ad_platform) as platform,
        count(case when event_type = 'impression' then 1 end) as impressions,
        count(case when event_type = 'click' then 1 end) as clicks,
        count(case when event_type = 'conversion' then 1 end) as conversions,
        cast(coalesce(sum(case when event_type in ('impression', 'click') then ad_cost end), 0) as decimal(24, 6))
            as cost,
        cast(coalesce(sum(case when event_type = 'conversion' then conversion_value end), 0) as decimal(24, 2))
            as conversions_value

    from ad_events
    group by event_date, campaign_id

)

select * from final
