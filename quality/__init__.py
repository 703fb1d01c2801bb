"""Data quality gates: Great Expectations suites for every layer, checkpoints, the event ledger
(docs/quality.md).

* :mod:`quality.suites`: the suites as code (one module per layer), built from the event contract's quality inputs;
* :mod:`quality.prepare`: pure pandas preparation (plain types, derived columns);
* :mod:`quality.engine`: running suites through GX checkpoints, reading the results;
* :mod:`quality.checkpoints`: what each checkpoint reads for a day and validates;
* :mod:`quality.runner`: :func:`~quality.runner.run_checkpoint` / :func:`~quality.runner.gate`;
* :mod:`quality.ledger` (pure) and :mod:`quality.ledger_io`: the event ledger;
* :mod:`quality.metrics`, :mod:`quality.alerts`: Prometheus export and the webhook alert;
* :mod:`quality.cli`: ``watershed quality ...``; :mod:`quality.tasks`: the Airflow task helper.

Importing this package imports neither pandas nor Great Expectations.
"""
