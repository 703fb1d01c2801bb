-- Each step count of conversion_funnel equals the lake's gold funnel for the same day, device
-- and bot flag.
with

marts as (

    {%- set steps = [('session', 'sessions'), ('product_view', 'product_view_sessions'),
                     ('add_to_cart', 'add_to_cart_sessions'), ('begin_checkout', 'begin_checkout_sessions'),
                     ('purchase', 'purchase_sessions')] %}
    {% for step, column in steps %}
    select funnel_date, device, is_bot, '{{ step }}' as step, {{ column }} as sessions
    from {{ ref('conversion_funnel') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

gold as (

    select funnel_date, device, is_bot, step, sessions from {{ ref('stg_lake__funnel_steps') }}

)

select
    coalesce(marts.funnel_date, gold.funnel_date) as funnel_date,
    coalesce(marts.device, gold.device) as device,
    coalesce(marts.is_bot, gold.is_bot) as is_bot,
    coalesce(marts.step, gold.step) as step,
    marts.sessions,
    gold.sessions as gold_sessions
from marts
full outer join gold
    on gold.funnel_date = marts.funnel_date
    and gold.device = marts.device
    and gold.is_bot = marts.is_bot
    and gold.step = marts.step
where marts.sessions is null or gold.sessions is null or marts.sessions <> gold.sessions
