"""`generate`: simulate, deliver the events to a sink, and write the ad-platform rows and the
ground truth next to them (always as files, whatever the sink)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from simulator.config import GeneratorConfig
from simulator.files import (
    AD_PLATFORM_DIR,
    EVENTS_DIR,
    TRUTH_DIR,
    Format,
    write_ad_platform,
    write_summary,
    write_truth,
)
from simulator.simulate import simulate
from simulator.sinks import EventSink, FileSink


def generate(
    config: GeneratorConfig, out: Path, sink: EventSink | None = None, fmt: Format = "parquet"
) -> dict[str, Any]:
    """Generate one data set into `out` and return its summary (also truth/summary.json).

    `sink` defaults to files in `fmt`. A rerun replaces the previous output's events/,
    ad_platform/ and truth/ folders (nothing else under `out` is touched), so a seed always
    leaves the same files behind.
    """
    out = Path(out)
    sink = sink or FileSink(out, fmt)
    simulation = simulate(config)
    for name in (EVENTS_DIR, AD_PLATFORM_DIR, TRUTH_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    with ThreadPoolExecutor(max_workers=1) as pool:  # the truth is computed while events are delivered
        truth_files = pool.submit(lambda: write_truth(simulation.truth, out))
        delivery = sink.send(simulation.events)
        files = {
            "ad_platform": [str(p) for p in write_ad_platform(simulation.ad_platform_rows, out, fmt)],
            "truth": [str(p) for p in truth_files.result()],
        }
    summary = {**simulation.summary, "delivery": delivery, "files": files}
    write_summary(summary, out)
    return summary
