"""Grafana's dashboards as code: the committed JSON is what monitoring/dashboards.py renders, and
every panel is well formed for Grafana. (Their queries run against the real Prometheus in
tests/airflow_ui/test_airflow.py, after real DAG runs.)"""

from __future__ import annotations

import json

from monitoring.dashboards import DASHBOARDS, FOLDER, dashboard_json, main, promql


def test_the_committed_dashboards_are_the_rendered_ones() -> None:
    assert main(["--check"]) == 0
    assert sorted(p.name for p in FOLDER.glob("*.json")) == [
        "airflow.json", "collector.json", "kafka.json", "pipeline.json", "quality.json", "realtime.json",
    ]  # fmt: skip


def test_every_panel_reads_prometheus_and_fits_the_grid() -> None:
    uids = [d.uid for d in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for dashboard in DASHBOARDS:
        body = json.loads(json.dumps(dashboard_json(dashboard)))
        ids = [p["id"] for p in body["panels"]]
        assert ids == list(range(1, len(ids) + 1)), dashboard.uid
        for panel in body["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, (dashboard.uid, panel["title"])
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
            assert [t["refId"] for t in panel["targets"]] == [chr(65 + i) for i in range(len(panel["targets"]))]


def test_the_rate_interval_is_filled_in_as_grafana_does() -> None:
    assert promql("rate(x[$__rate_interval])") == "rate(x[1m])"
    assert promql("rate(x[$__rate_interval]) / rate(y[$__rate_interval])", "2m") == "rate(x[2m]) / rate(y[2m])"
