"""The expectation suites as code, one module per layer: plain descriptions (:class:`Check`) built
from the event contract's quality inputs and a few rules; :mod:`quality.engine` turns them into
Great Expectations objects. Kept free of GX (and of pandas) so the suites can be listed and tested
without their slow imports.

* :mod:`~quality.suites.expectations`: :class:`Check`, :class:`Rules` and the shared builders
  (the contract's checks of every stored event, range checks);
* :mod:`~quality.suites.bronze`: ``bronze.events``;
* :mod:`~quality.suites.silver`: ``silver.events``, ``silver.sessions``;
* :mod:`~quality.suites.ads`: ``ads.ad_platform_daily``;
* :mod:`~quality.suites.marts`: ``marts.<table>``, the list of marts and the day-over-day band;
* :mod:`~quality.suites.ledger`: ``ledger.reconciliation`` and ``ledger.ownership``.
"""

from quality.suites.ads import ad_row_checks
from quality.suites.bronze import bronze_event_checks
from quality.suites.expectations import Check, Condition, Rules, contract_event_checks
from quality.suites.ledger import ledger_checks, ownership_checks
from quality.suites.marts import MartSpec, load_marts, mart_checks
from quality.suites.silver import silver_event_checks, silver_session_checks

__all__ = [
    "Check",
    "Condition",
    "MartSpec",
    "Rules",
    "ad_row_checks",
    "bronze_event_checks",
    "contract_event_checks",
    "ledger_checks",
    "load_marts",
    "mart_checks",
    "ownership_checks",
    "silver_event_checks",
    "silver_session_checks",
]
