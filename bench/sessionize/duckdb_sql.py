"""The sessionization job as one DuckDB SQL statement: the same rules as spark_jobs (validation
reasons from the contract's quality inputs, first-received deduplication, the contract's session
rule and the same session columns), so both engines can be timed on the same bronze files and
their outputs compared row for row."""

from __future__ import annotations

from spark_jobs.common.lake_rules import SessionRules, TimeRules
from spark_jobs.common.time_columns import instant, span
from watershed.contract.events import EVENT_TYPES
from watershed.contract.fields import MAX_PROPERTIES_BYTES, MAX_PROPERTIES_KEYS
from watershed.contract.quality import quality_inputs
from watershed.contract.semantics import BOT_USER_AGENT_PATTERN


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def _missing(name: str) -> str:
    return f"({name} IS NULL OR len({name}) = 0)" if name == "items" else f"{name} IS NULL"


def quarantine_reason(time: TimeRules) -> str:
    """The CASE expression of spark_jobs.batch.transforms.validate.reason, in DuckDB."""
    checks = quality_inputs()["events"]
    cases = [
        ("parse_error IS NOT NULL", "parse_error"),
        ("event_type IS NULL", _quote("missing_required_field:event_type")),
        (f"event_type NOT IN {_in(list(EVENT_TYPES))}", _quote("unknown_event_type")),
    ]
    cases += [
        (_missing(n), _quote(f"missing_required_field:{n}")) for n in checks.required_columns if n != "event_type"
    ]
    for group in checks.at_least_one_of:
        cases.append((f"coalesce({', '.join(group)}) IS NULL", _quote("missing_required_field:" + "_or_".join(group))))
    for event_type, names in checks.required_by_event_type.items():
        cases += [(f"event_type = {_quote(event_type)} AND {_missing(n)}", _quote(f"missing_required_field:{n}"))
                  for n in names]  # fmt: skip
    cases += [
        (f"NOT regexp_matches({n}, {_quote(p)})", _quote(f"malformed_field:{n}")) for n, p in checks.patterns.items()
    ]
    cases += [
        ("properties IS NOT NULL AND coalesce(json_type(try_cast(properties AS JSON)), '') <> 'OBJECT'",
         _quote("malformed_field:properties")),
        (f"len(json_keys(try_cast(properties AS JSON))) > {MAX_PROPERTIES_KEYS}"
         f" OR strlen(properties) > {MAX_PROPERTIES_BYTES}",
         _quote("oversize_properties")),
    ]  # fmt: skip
    occurred, ref = "epoch_us(occurred_at)", "epoch_us(coalesce(received_at, kafka_timestamp))"
    cases += [
        (f"{occurred} > {ref} + {span(time.max_clock_skew)}", _quote("future_timestamp")),
        (f"{occurred} < {ref} - {span(time.max_event_age)} OR {occurred} < {instant(time.earliest)}",
         _quote("outside_retention")),
    ]  # fmt: skip
    return "CASE " + " ".join(f"WHEN {c} THEN {v}" for c, v in cases) + " END"


def sessions_sql(bronze_glob: str, rules: SessionRules = SessionRules(), time: TimeRules = TimeRules()) -> str:  # noqa: B008
    """A SELECT of the silver sessions (the columns of spark_jobs.batch.transforms.sessions.sessions)."""
    order = "occurred_at, event_id"
    day = "epoch_us(occurred_at) // 86400000000"  # the UTC day, as a number
    bot = f"regexp_matches(lower(user_agent), {_quote(BOT_USER_AGENT_PATTERN)})"
    first = "arg_min({0}, ({1})) FILTER (WHERE {0} IS NOT NULL)"
    last = "arg_max({0}, ({1})) FILTER (WHERE {0} IS NOT NULL)"
    return f"""
WITH bronze AS (
    SELECT * FROM read_parquet('{bronze_glob}', hive_partitioning = true, union_by_name = true)
), valid AS (
    SELECT * FROM bronze WHERE ({quarantine_reason(time)}) IS NULL
), deduplicated AS (
    SELECT * FROM valid
    QUALIFY row_number() OVER (
        PARTITION BY event_id
        ORDER BY received_at NULLS LAST, kafka_timestamp, kafka_topic, kafka_partition, kafka_offset
    ) = 1
), visits AS (
    SELECT *, coalesce(user_id, anonymous_id) AS user_key
    FROM deduplicated WHERE event_type IN {_in(list(rules.event_types))}
), gaps AS (
    SELECT *, {day} AS day, lag({day}) OVER w AS previous_day,
        CASE WHEN lag(occurred_at) OVER w IS NULL
               OR epoch_us(occurred_at) - epoch_us(lag(occurred_at) OVER w) > {span(rules.gap)}
             THEN 1 ELSE 0 END AS new_visit
    FROM visits WINDOW w AS (PARTITION BY user_key ORDER BY {order})
), visited AS (
    SELECT *, sum(new_visit) OVER (PARTITION BY user_key ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM gaps
), flagged AS (
    -- the longest session: a visit that began two or more days before this event's day restarts here
    SELECT *, CASE WHEN new_visit = 1 OR (day > previous_day
        AND day - min(day) OVER (PARTITION BY user_key, visit_no) >= 2) THEN 1 ELSE 0 END AS starts
    FROM visited
), numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY user_key ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS session_no
    FROM flagged
), sessions AS (
    SELECT
        user_key,
        max(user_id) AS user_id,
        {first.format("anonymous_id", order)} AS anonymous_id,
        substr(sha256(user_key || '|' || arg_min(event_id, ({order}))), 1, 32) AS session_id,
        min(occurred_at) AS session_start,
        max(occurred_at) AS session_end,
        count(*) AS event_count,
        count(DISTINCT page_url) AS unique_pages,
        count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
        count(*) FILTER (WHERE event_type = 'product_view') AS product_views,
        count(*) FILTER (WHERE event_type = 'add_to_cart') AS add_to_carts,
        count(*) FILTER (WHERE event_type = 'begin_checkout') AS begin_checkouts,
        count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
        coalesce(sum(revenue) FILTER (WHERE event_type = 'purchase'), 0)::DECIMAL(18, 2) AS revenue,
        {first.format("page_url", order)} AS entry_page,
        {last.format("page_url", order)} AS exit_page,
        {first.format("device", order)} AS device,
        coalesce(bool_or({bot}), false) AS is_bot
    FROM numbered
    GROUP BY user_key, session_no
)
SELECT
    user_key, user_id, anonymous_id, session_id, session_start, session_end,
    (epoch_us(session_end) - epoch_us(session_start)) / 1000000.0 AS duration_seconds,
    event_count, unique_pages, page_views, product_views, add_to_carts, begin_checkouts, purchases, revenue,
    entry_page, exit_page, device, event_count = 1 AS is_bounce, is_bot
FROM sessions
"""
