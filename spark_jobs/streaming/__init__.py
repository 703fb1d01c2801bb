"""The real-time job (issue 9): windowed metrics, anomaly alerts and live ad counters from Kafka.

Modules: :mod:`config` (options), :mod:`transforms` (pure Spark transforms), :mod:`anomaly_rules`
(anomaly rules, pure Python), :mod:`webhooks` (Slack / PagerDuty), :mod:`counters` (the live
counter store), :mod:`job` (the IO layer), :mod:`supervise` (start/check/restart), :mod:`cli`.
See docs/streaming.md.
"""
