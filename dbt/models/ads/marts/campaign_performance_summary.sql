{#- The source document's campaign performance mart (docs/ads.md): per campaign and day, CTR,
    CPC, CVR, CPA and the efficiency score, money in the reporting currency
    (ad_reporting__campaign_report); the median of each per day and platform (the benchmark), and each campaign's place against it: above / at / below, within 20% of the
    median being "at". For CPC and CPA lower is better, so their sense is inverted.

    Where this differs from the document, on purpose: a rate whose denominator is 0 is null,
    not 0 (a campaign without conversions has no CPA; as 0 it would be the best CPA of the day
    and pull the median down), so medians ignore it and its flag is null; and CPC and CPA are
    compared in one currency, the reporting one: a median of CPCs in pounds and euros means
    nothing. -#}
{%- set metrics = {'ctr': 'higher', 'cpc': 'lower', 'cvr': 'higher', 'cpa': 'lower'} -%}

with

report as (

    select * from {{ ref('ad_reporting__campaign_report') }}

),

performance as (

    select
        *,  -- the report's columns (ad_reporting__campaign_report), then the rates
        {{ safe_divide('clicks', 'impressions') }} as ctr,
        {{ safe_divide('spend', 'clicks') }} as cpc,
        {{ safe_divide('conversions', 'clicks') }} as cvr,
        {{ safe_divide('spend', 'conversions') }} as cpa,
        {{ safe_divide('conversions_value', 'spend') }} as roas,
        -- conversions per 1,000 of spend, times 10, within [0, 100] (the document's score: 100 for
        -- a CPA of 100 or less, 50 for 200); null without spend (least/greatest treat a null
        -- differently on DuckDB and Snowflake, so the null is kept out of them)
        case
            when spend > 0 then least(100, greatest(0, cast(conversions as {{ float_type() }}) * 10000 / spend))
        end as efficiency_score,
        case
            when impressions = 0 or clicks > impressions then 'anomaly'
            when {{ safe_divide('clicks', 'impressions') }} > 0.5 then 'high_ctr'
            else 'normal'
        end as data_quality_flag

    from report

),

benchmark as (

    select
        date_day,
        platform,
        {%- for metric in metrics %}
        {{ percentile_cont(metric, 0.5) }} as median_{{ metric }}{{ "," if not loop.last }}
        {%- endfor %}

    from performance
    group by date_day, platform

),

final as (

    select
        performance.*,
        {%- for metric in metrics %}
        benchmark.median_{{ metric }},
        {%- endfor %}
        {%- for metric, better in metrics.items() %}
        {%- set good, bad = ('>', '<') if better == 'higher' else ('<', '>') %}
        case
            when performance.{{ metric }} is null or benchmark.median_{{ metric }} is null then null
            when performance.{{ metric }} {{ good }} benchmark.median_{{ metric }} * {{ 1.2 if better == 'higher' else 0.8 }}
                then 'above_benchmark'
            when performance.{{ metric }} {{ bad }} benchmark.median_{{ metric }} * {{ 0.8 if better == 'higher' else 1.2 }}
                then 'below_benchmark'
            else 'at_benchmark'
        end as {{ metric }}_performance{{ "," if not loop.last }}
        {%- endfor %}

    from performance
    left join benchmark
        on benchmark.date_day = performance.date_day
        and benchmark.platform = performance.platform

)

select * from final
