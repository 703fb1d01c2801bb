"""`pip install .` (a wheel, not an editable install) into an empty virtual environment outside the
checkout, then `watershed stack up && watershed demo` in an empty directory: the platform needs
nothing from the source tree but the JVM jars and the MinIO binary `make setup` built
(WATERSHED_CACHE_DIR). The dbt project and the DAGs come from the wheel's package data.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from watershed.stack.process import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = (".git", ".venv", ".cache", ".local", "build", "*.egg-info", "__pycache__", ".*_cache")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


def run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_a_wheel_installed_outside_the_checkout_runs_the_demo(tmp_path: Path) -> None:
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATERSHED_", "AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # a copy of the tree (setuptools leaves build/ in the source folder, and a stale one could ship)
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LOCAL_ONLY))
    run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=env, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "-c", str(ROOT / "constraints.txt"), str(source)], cwd=work, env=env, timeout=900)
    shutil.rmtree(source)

    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import watershed, warehouse.dbt, watershed.paths as p; "
            "print(watershed.__file__); print(warehouse.dbt.DBT_PROJECT_DIR); print(p.dags_dir())",
        ],
        cwd=work,
        env=env,
        timeout=60,
    ).split()
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert [Path(p).is_relative_to(site) for p in where] == [True, True, True], where
    assert (Path(where[1]) / "dbt_project.yml").is_file()
    assert (Path(where[2]) / "ecommerce_daily.py").is_file()

    env |= {
        "WATERSHED_CACHE_DIR": str(ROOT / ".cache"),  # the jars and MinIO that `make setup` built
        "WATERSHED_KAFKA_PORT": str(free_port(29092)),
        "WATERSHED_KAFKA_CONTROLLER_PORT": str(free_port(29093)),
        "WATERSHED_KAFKA_METRICS_PORT": str(free_port(29404)),
        "WATERSHED_S3_PORT": str(free_port(29000)),
        "WATERSHED_REDIS_PORT": str(free_port(26379)),
    }
    watershed = str(venv / "bin" / "watershed")
    try:
        run([watershed, "stack", "up"], cwd=work, env=env, timeout=300)
        out = run([watershed, "demo", "--events", "5000"], cwd=work, env=env, timeout=1200)
    finally:
        subprocess.run([watershed, "stack", "down"], cwd=work, env=env, capture_output=True, timeout=120, check=False)

    # state went to the working directory's .local, not the checkout
    assert (work / ".local" / "warehouse.duckdb").is_file()
    accepted = re.search(r"collector: ([\d,]+) events accepted", out)
    sessions = re.search(r"sessions: ([\d,]+)", out)
    assert accepted and int(accepted.group(1).replace(",", "")) > 4_000, out
    assert sessions and int(sessions.group(1).replace(",", "")) > 500, out
    verdicts = dict(re.findall(r"quality (\w+): (\w+)", out))
    assert verdicts == {
        "bronze": "passed",
        "silver": "passed",
        "marts": "passed",
        "ledger": "passed",
        "ads": "passed",
        "ad_marts": "passed",
    }, out
    # the ad day: extracted from the fake APIs by the installed google-ads and facebook-business clients
    for platform in ("Google", "Meta"):
        assert re.search(rf"ads \({platform}\): spend [\d,]+\.\d\d USD   CTR \d+\.\d\d%   ROAS ", out), out
