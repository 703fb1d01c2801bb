"""Benchmark: the sessionization job on Spark local[2] against the local standalone cluster (a
master and two 1-core workers, `watershed stack up spark-worker-1 spark-worker-2`) on the same
machine and the same bronze.

Both run bench.sessionize's Spark job in a fresh process (validate, deduplicate, sessionize,
write the sessions), alternating A B A B; the outputs of the two masters are compared row for row
before any figure is printed. Same cores either way (2): the ratio is what the cluster's
scheduling, executor JVMs and shuffle over loopback cost, not a speed-up.

    python -m bench.spark_cluster                  # 1M events, 2 rounds
    python -m bench.spark_cluster --events 3000000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._report import record
from bench.sessionize.__main__ import prepare


def run(data: Path, out: Path, master: str) -> tuple[float, float]:
    """(job seconds, whole process seconds) of one fresh Spark process on `master`."""
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-m", "bench.sessionize", "--spark-only", str(data), str(out)],
        env={**os.environ, "BENCH_SPARK_MASTER": master},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if child.returncode:
        raise SystemExit(child.stderr[-3000:])
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    whole = time.perf_counter() - started - figures["warm"] - figures["floor"]
    return figures["job"], whole


def same_rows(a: Path, b: Path) -> int:
    import duckdb

    con = duckdb.connect()
    count = con.execute(f"select count(*) from read_parquet('{a}/*.parquet')").fetchone()[0]
    differ = con.execute(
        f"select count(*) from ((select * from read_parquet('{a}/*.parquet') except all "
        f"select * from read_parquet('{b}/*.parquet')) union all (select * from read_parquet('{b}/*.parquet') "
        f"except all select * from read_parquet('{a}/*.parquet')))"
    ).fetchone()[0]
    if differ:
        raise SystemExit(f"local[2] and the cluster disagree on {differ} session rows")
    return int(count)


def main() -> None:
    from watershed.settings import Settings
    from watershed.stack import Stack
    from watershed.stack.process import free_port

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data = prepare(args.events, 7, 1)
    state = Path(tempfile.mkdtemp(prefix="watershed-bench-cluster-"))
    settings = Settings(
        env="local", state_dir=state, spark_master_port=free_port(27077), spark_master_ui_port=free_port(28090),
        spark_worker_cores=1, spark_worker_memory="2g",
    )  # fmt: skip
    stack = Stack(settings, ["spark-worker-1", "spark-worker-2"])
    stack.up(echo=print)
    cluster = f"spark://127.0.0.1:{settings.spark_master_port}"
    times: dict[str, list[tuple[float, float]]] = {"local[2]": [], cluster: []}
    try:
        for round_ in range(args.rounds):
            for master in ["local[2]", cluster] if round_ % 2 == 0 else [cluster, "local[2]"]:
                out = state / f"out-{len(times[master])}-{'local' if master.startswith('local') else 'cluster'}"
                times[master].append(run(data, out, master))
                print(f"  {master}: job {times[master][-1][0]:.1f} s, whole {times[master][-1][1]:.1f} s", flush=True)
        sessions = same_rows(state / "out-0-local", state / "out-0-cluster")
    finally:
        stack.down(echo=print)
        shutil.rmtree(state, ignore_errors=True)
    local_job = statistics.median(j for j, _ in times["local[2]"])
    cluster_job = statistics.median(j for j, _ in times[cluster])
    local_whole = statistics.median(w for _, w in times["local[2]"])
    cluster_whole = statistics.median(w for _, w in times[cluster])
    body = (
        "| master | job (s), median | whole process (s), median | rounds (job s) |\n|---|---:|---:|---|\n"
        f"| local[2] | {local_job:.1f} | {local_whole:.1f} | {', '.join(f'{j:.1f}' for j, _ in times['local[2]'])} |\n"
        f"| standalone, 2 workers x 1 core | {cluster_job:.1f} | {cluster_whole:.1f} | "
        f"{', '.join(f'{j:.1f}' for j, _ in times[cluster])} |\n\n"
        f"Cluster / local[2]: job {cluster_job / local_job:.2f}, whole process {cluster_whole / local_whole:.2f}. "
        f"{args.events:,} generated events (7 days, seed 1, faults on), {sessions:,} sessions, identical on both "
        "masters. The job is bench.sessionize's (validate, deduplicate, sessionize, write), the heaviest Spark step "
        "of the daily DAG; 'whole process' adds the JVM start and, on the cluster, the executors' launch. Same 2 "
        "cores either way: the ratio is the cost of the cluster's executor JVMs and loopback shuffle, not a speed-up."
    )
    print(body)
    record("spark-cluster", "Spark: local[2] against the local standalone cluster", body)


if __name__ == "__main__":
    main()
