-- Every session counts exactly the events that carry its id in fct_user_events.
with

sessions as (

    select session_id, event_count from {{ ref('fct_sessions') }}

),

events as (

    select session_id, count(*) as events
    from {{ ref('fct_user_events') }}
    where session_id is not null
    group by session_id

)

select sessions.session_id, sessions.event_count, events.events
from sessions
left join events
    on events.session_id = sessions.session_id
where events.events is null or events.events <> sessions.event_count
