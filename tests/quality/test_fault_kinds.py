"""Every suite passes on clean generated data and fails, naming the right expectation with the
exact number of rows, on data generated with each fault kind switched on. Expected counts come
from the generator's ground truth (truth/faults), never from the data under test."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from quality.checkpoints import Prepared, bronze_validations, silver_validations
from quality.suites import Rules
from tests.quality.conftest import as_bronze, as_silver_events, as_silver_sessions, generated, run
from watershed.contract import quality_inputs

RULES = Rules()


def bronze(platform, qs, **rates):  # type: ignore[no-untyped-def]
    data = generated(**rates)
    return data, run("bronze", None, Prepared(bronze_validations(as_bronze(data.events), RULES)), platform, qs)


def failed(outcome) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    return {f.name: f.unexpected_count for f in outcome.failures}


def test_clean_data_passes_every_suite(platform, qs) -> None:  # type: ignore[no-untyped-def]
    data = generated()
    outcome = run(
        "clean",
        None,
        Prepared(
            bronze_validations(as_bronze(data.events), RULES)
            + silver_validations(as_silver_events(data), as_silver_sessions(data.sessions))
        ),
        platform,
        qs,
    )
    assert outcome.failures == []
    assert outcome.success and outcome.score == 1.0
    assert outcome.evaluated == len(outcome.expectations) > 60
    assert outcome.details["rows"] == {
        "bronze.events": len(data.events),
        "silver.events": len(data.events),
        "silver.sessions": len(data.sessions),
    }


def test_duplicates_pass_bronze_and_fail_silver_unique_event_id(platform, qs) -> None:  # type: ignore[no-untyped-def]
    data, outcome = bronze(platform, qs, duplicate=0.03)
    assert outcome.success  # bronze keeps every copy: retries are not an error there

    copies = data.fault_rows("duplicate")
    assert len(copies) == round(0.03 * (len(data.events) - len(copies)))
    # silver without deduplication: every copy and the event it repeats share one event_id
    expected = len(copies) + copies["event_id"].nunique()
    silver = run("silver", None, Prepared(silver_validations(as_silver_events(data), None)), platform, qs)
    assert failed(silver) == {"unique:event_id": expected}

    deduplicated = data.events.drop(index=copies["position"])
    clean = run("silver", None, Prepared(silver_validations(as_silver_events(data, deduplicated), None)), platform, qs)
    assert clean.success


def test_late_events_fail_arrival_not_late(platform, qs) -> None:  # type: ignore[no-untyped-def]
    data, outcome = bronze(platform, qs, late=0.03)
    late = data.fault_rows("late")
    assert failed(outcome) == {"arrival_not_late": len(late)}
    found = outcome.failure("bronze.events/arrival_not_late")
    assert found.element_count == len(data.events)
    assert all(s > RULES.late_after_seconds for s in found.samples)


def test_out_of_order_events_fail_arrival_in_order(platform, qs) -> None:  # type: ignore[no-untyped-def]
    data, outcome = bronze(platform, qs, out_of_order=0.03)
    rows = data.fault_rows("out_of_order")
    # An event arrives 1-30 s after the next event of its user, which may come hours later:
    # then it is late too, and reported as late only. Ad platforms report in batches, so the
    # order check covers the other sources.
    lag = (rows["received_at_row"] - rows["occurred_at"]).dt.total_seconds()
    late = lag > RULES.late_after_seconds
    in_order_check = ~late & (rows["source"].astype(object) != "ad_platform")
    assert int(in_order_check.sum()) > 0.01 * len(data.events)
    assert not outcome.success
    assert outcome.failure("bronze.events/arrival_in_order").unexpected_count == int(in_order_check.sum())
    assert outcome.failure("bronze.events/arrival_not_late").unexpected_count == int(late.sum())
    assert set(failed(outcome)) <= {"arrival_in_order", "arrival_not_late"}


def test_bot_traffic_fails_bot_share(platform, qs) -> None:  # type: ignore[no-untyped-def]
    data, outcome = bronze(platform, qs, bot=0.2)
    assert failed(outcome) == {"bot_share": len(data.fault_rows("bot"))}
    assert all(s is True for s in outcome.failure("bronze.events/bot_share").samples)


def test_raw_personal_data_fails_no_raw_pii_per_column(platform, qs) -> None:  # type: ignore[no-untyped-def]
    data, outcome = bronze(platform, qs, pii=0.03)
    reasons = data.fault_rows("pii")["reason"]
    fields = Counter(f for r in reasons for f in r.removeprefix("raw ").split(","))
    assert failed(outcome) == {f"no_raw_pii:{f}": n for f, n in fields.items()}
    assert set(fields) == {"ip", "email", "phone"}
    assert any("@" in s for s in outcome.failure("bronze.events/no_raw_pii:email").samples)


# ---- malformed events: one data set, one test per kind -------------------------------------------

MALFORMED_RATE = 0.05


@pytest.fixture(scope="module")
def malformed(tmp_path_factory, quality_root):  # type: ignore[no-untyped-def]
    from quality.settings import QualitySettings
    from watershed.settings import Settings

    platform = Settings(state_dir=tmp_path_factory.mktemp("state"))
    data, outcome = bronze(platform, QualitySettings(dir=quality_root), malformed=MALFORMED_RATE)
    rows = data.fault_rows("malformed")
    rows = rows.assign(kind_of=rows["reason"].str.split(":").str[0])
    return data, rows, outcome


def _rule_for(field: str, event_type: object) -> str | None:
    """The expectation that requires `field` on an event of `event_type`, if any."""
    checks = quality_inputs()["events"]
    if field in checks.required_columns:
        return f"required:{field}"
    if field == "user_id,anonymous_id":
        return "required:user_id_or_anonymous_id"
    if isinstance(event_type, str) and field in checks.required_by_event_type.get(event_type, ()):
        return f"required_for_type:{field}"
    return None


def _expected_field_failures(rows: pd.DataFrame) -> Counter[str]:
    """A missing field, or one of the wrong type (its column is null), fails the check that
    requires it on that event; a missing currency next to an amount also fails
    currency_with_amount."""
    expected: Counter[str] = Counter()
    money = quality_inputs()["events"].rules["currency_required_with_amount"]
    for row in rows[rows["kind_of"].isin(["missing_field", "wrong_type"])].itertuples():
        field = row.reason.split(":", 1)[1]
        rule = _rule_for(field, row.event_type)
        if rule:
            expected[rule] += 1
        if field == "currency" and any(getattr(row, m) is not None and not _empty(getattr(row, m)) for m in money):
            expected["currency_with_amount"] += 1
    return expected


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def test_malformed_rows_split_evenly_over_the_five_kinds(malformed) -> None:  # type: ignore[no-untyped-def]
    _, rows, outcome = malformed
    assert not outcome.success
    counts = rows["kind_of"].value_counts()
    assert set(counts.index) == {
        "missing_field",
        "wrong_type",
        "future_timestamp",
        "ancient_timestamp",
        "oversize_properties",
    }
    assert counts.max() - counts.min() <= 1


def test_missing_fields_fail_the_check_requiring_them(malformed) -> None:  # type: ignore[no-untyped-def]
    _, rows, outcome = malformed
    expected = _expected_field_failures(rows)
    assert expected  # the data set does miss required fields
    for name, count in expected.items():
        found = outcome.failure(f"bronze.events/{name}")
        assert (name, found.unexpected_count, found.success) == (name, count, False)


def test_wrong_types_fail_parsed_against_contract(malformed) -> None:  # type: ignore[no-untyped-def]
    _, rows, outcome = malformed
    wrong = rows[rows["kind_of"] == "wrong_type"]
    assert failed(outcome)["parsed_against_contract"] == len(wrong)
    assert set(outcome.failure("bronze.events/parsed_against_contract").samples) == {"malformed_field"}


def test_future_timestamps_fail_occurred_at_not_in_future(malformed) -> None:  # type: ignore[no-untyped-def]
    _, rows, outcome = malformed
    assert failed(outcome)["occurred_at_not_in_future"] == int((rows["kind_of"] == "future_timestamp").sum())


def test_ancient_timestamps_fail_retention_and_earliest(malformed) -> None:  # type: ignore[no-untyped-def]
    _, rows, outcome = malformed
    reasons = rows["reason"]
    assert failed(outcome)["occurred_at_within_retention"] == int(reasons.str.startswith("ancient_timestamp").sum())
    assert failed(outcome)["occurred_at_after_earliest"] == int((reasons == "ancient_timestamp:epoch").sum())


def test_oversize_properties_fail_max_keys_and_max_bytes(malformed) -> None:  # type: ignore[no-untyped-def]
    _, rows, outcome = malformed
    reasons = rows["reason"]
    assert failed(outcome)["properties_max_keys"] == int((reasons == "oversize_properties:keys").sum())
    assert failed(outcome)["properties_max_bytes"] == int((reasons == "oversize_properties:bytes").sum())


def test_malformed_data_fails_nothing_else(malformed) -> None:  # type: ignore[no-untyped-def]
    _, rows, outcome = malformed
    explained = set(_expected_field_failures(rows)) | {
        "parsed_against_contract",
        "occurred_at_not_in_future",
        "occurred_at_within_retention",
        "occurred_at_after_earliest",
        "properties_max_keys",
        "properties_max_bytes",
    }
    assert set(failed(outcome)) == explained
