"""Benchmark: events per second generated to Parquet by `watershed generate`.

Goal (issue 3): 10 million events in under 60 seconds on this machine. Runs the same code path
as the CLI (simulate, write events, ad-platform rows and ground truth) with every fault switched
on at realistic rates, and records the figures in BENCHMARKS.md.

    python -m bench.generate                 # 10 million events
    python -m bench.generate --events 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench._report import record
from simulator import FaultRates, GeneratorConfig, generate

FAULTS = FaultRates(duplicate=0.01, late=0.01, out_of_order=0.01, malformed=0.005, bot=0.02, pii=0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="keep the output here (default: a temporary folder, removed)")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="watershed-bench-"))
    config = GeneratorConfig(seed=args.seed, days=args.days, events=args.events, faults=FAULTS)
    load_before = os.getloadavg()[0]
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    summary = generate(config, out)
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    load_after = os.getloadavg()[0]
    size = sum(p.stat().st_size for p in (out / "events").glob("*.parquet"))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    if args.out is None:
        shutil.rmtree(out)

    rows = summary["rows"]
    body = "\n".join(
        [
            "| events written | seconds | events / s | CPU seconds (user + system) | Parquet size | peak memory "
            "| load average (1 min) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {rows:,} | {elapsed:.1f} | {rows / elapsed:,.0f} | {cpu:.1f} | {size / 1e6:,.0f} MB | {peak_gb:.1f} GB "
            f"| {load_before:.1f} before, {load_after:.1f} after |",
            "",
            f"{args.days} days, seed {args.seed}, faults: duplicate 1%, late 1%, out-of-order 1%, malformed 0.5%, "
            "bots 2%, raw personal data 0.5%. The time covers simulation, the events (zstd Parquet, one file per "
            "million rows), the ad-platform rows and the ground truth (sessions, daily funnel and revenue, "
            f"campaign totals, faults list). Goal: 10 million events in under 60 s "
            f"({'met' if rows >= 10_000_000 and elapsed < 60 else 'not met' if rows >= 10_000_000 else 'n/a'} "
            f"in this run). This machine has {os.cpu_count()} cores: a load average above that means other processes "
            "shared them, and the wall time grows while the CPU seconds stay about the same.",
        ]
    )
    print(body)
    command = " ".join(["python -m bench.generate", *map(shlex.quote, sys.argv[1:])])
    record("generate", "Traffic generator: events to Parquet", body, command=command)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
