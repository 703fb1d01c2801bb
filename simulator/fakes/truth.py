"""What a fake serves, which is the truth its tests compare with."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from watershed.contract import AdPlatformDailyRow


class ServedRows:
    """The rows a fake serves now: its world's rows with the restatements in effect.

    A fake sets ``_rows`` (sorted by account, day, campaign), ``faults.restatements`` (each with
    ``day``, ``campaign_id``, ``after_pulls``, ``conversions``, ``conversion_value``) and counts
    ``completed_pulls``: a restatement takes effect once that many pulls were served whole."""

    _rows: list[AdPlatformDailyRow]
    faults: Any
    completed_pulls: int

    def rows(
        self, start: date | None = None, end: date | None = None, *, account_id: str | None = None
    ) -> list[AdPlatformDailyRow]:
        """The rows a pull would serve now, in the order served: (account, day, campaign)."""
        out = []
        for r in self._rows:
            if (start and r.date < start) or (end and r.date > end) or (account_id and r.account_id != account_id):
                continue
            for s in self.faults.restatements:
                if (s.day, s.campaign_id) == (r.date, r.campaign_id) and self.completed_pulls >= s.after_pulls:
                    r = r.model_copy(update={"conversions": s.conversions, "conversion_value": s.conversion_value})
            out.append(r)
        return out

    def write_truth(self, path: str | Path, start: date | None = None, end: date | None = None) -> Path:
        """The rows served now, one JSON object a line (contract field names)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(r.model_dump_json() + "\n" for r in self.rows(start, end)))
        return path
