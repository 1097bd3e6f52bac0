"""Generate a dbt project for one scenario, run ``dbt build`` on it, and read what it took.

The generated project is the repo's demo path with the seed replaced: a SQL model ``feat_bench``
materialises the scenario's parquet file as a table (a dbt seed of a million rows would measure dbt's
seed INSERTs, not the sweep), then the same thin Python models as ``python_models/`` call
``dbt_sweep.models.sweep_manifest`` and ``sweep_runs``, and two data tests check the output (one row per
manifest row, no failed runs). The repo's ``macros/`` are copied in unchanged; the
profile is ``profiles.example.yml``'s ``local`` target. Every build gets its own Spark dir
(``SWEEP_SPARK_DIR``: warehouse and Derby metastore), so it never touches the repo's ``.spark/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from memory import MemorySampler
from workloads import FEATURES, GROUP, REPO, TARGET

DBT = str(Path(sys.executable).with_name("dbt"))
_ENV_VAR = re.compile(r"\{\{\s*env_var\('([^']+)'\s*,\s*'([^']*)'\)\s*\}\}")

_MANIFEST_MODEL = """import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_bench")
    return dbt_sweep.models.sweep_manifest(features, spec, model=dbt.this.identifier)
"""
_RUNS_MODEL = """import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("feat_bench")
    manifest = dbt.ref("sweep_manifest")
    return dbt_sweep.models.sweep_runs(features, manifest, spec, model=dbt.this.identifier)
"""


def target_profile(target: str = "local") -> dict[str, Any]:
    """``profiles.example.yml`` reduced to one target (profile ``sweep``), ``local`` unless asked."""
    profile = yaml.safe_load((REPO / "profiles.example.yml").read_text())["sweep"]
    output = profile["outputs"][target]
    if target != "connect":  # a Connect client cannot set the server's (static) event log
        # Bench-only addition: Spark's event log, for the stage breakdown (bench/eventlog.py).
        output["server_side_parameters"].update(
            {
                "spark.eventLog.enabled": "true",
                "spark.eventLog.dir": "{{ env_var('SWEEP_SPARK_DIR', '.spark') }}/events",
                "spark.eventLog.compress": "false",
            }
        )
    return {"sweep": {"target": target, "outputs": {target: output}}}


def spark_conf(spark_dir: Path) -> dict[str, str]:
    """The local target's Spark settings, rendered as dbt renders them with ``SWEEP_SPARK_DIR``."""
    params = target_profile()["sweep"]["outputs"]["local"]["server_side_parameters"]
    env = {**os.environ, "SWEEP_SPARK_DIR": str(spark_dir)}
    return {
        key: _ENV_VAR.sub(lambda m: env.get(m[1], m[2]), str(value))
        for key, value in params.items()
    }


def _feature_sql(data: Path) -> str:
    columns = ",\n    ".join(
        ["cast(row_id as bigint) as row_id", f"cast({GROUP} as string) as {GROUP}"]
        + [f"cast({c} as double) as {c}" for c in [*FEATURES, TARGET]]
    )
    return f"select\n    {columns}\nfrom parquet.`{data}`\n"


def _models_yml(spec: dict[str, Any], spark_conf: dict[str, str]) -> dict[str, Any]:
    return {
        "version": 2,
        "models": [
            {"name": "feat_bench", "config": {"materialized": "table"}},
            {"name": "sweep_manifest", "config": {"sweep": spec}},
            {
                "name": "sweep_runs",
                "config": {"sweep": spec, **({"spark_conf": spark_conf} if spark_conf else {})},
                "data_tests": [
                    {"row_count_equals": {"arguments": {"compare_model": "ref('sweep_manifest')"}}},
                    {"sweep_failure_rate": {"arguments": {"max_failure_rate": 0.0}}},
                ],
            },
        ],
    }


def generate_project(
    root: Path,
    *,
    data: Path,
    spec: dict[str, Any],
    spark_conf: dict[str, str] | None = None,
    target: str = "local",
) -> Path:
    """Write the project under ``root/project`` and its profile under ``root/profiles``."""
    project = root / "project"
    models = project / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "macros", project / "macros", dirs_exist_ok=True)
    (project / "dbt_project.yml").write_text(
        yaml.safe_dump(
            {
                "name": "sweep_bench", "version": "0.1.0", "config-version": 2, "profile": "sweep",
                "model-paths": ["models"], "macro-paths": ["macros"],
                "models": {"sweep_bench": {"+file_format": "parquet"}},
            },
            sort_keys=False,
        )
    )  # fmt: skip
    (models / "feat_bench.sql").write_text(_feature_sql(data.resolve()))
    (models / "sweep_manifest.py").write_text(_MANIFEST_MODEL)
    (models / "sweep_runs.py").write_text(_RUNS_MODEL)
    (models / "_models.yml").write_text(
        yaml.safe_dump(_models_yml(spec, spark_conf or {}), sort_keys=False)
    )
    profiles = root / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "profiles.yml").write_text(yaml.safe_dump(target_profile(target), sort_keys=False))
    return project


def dbt_env(root: Path) -> dict[str, str]:
    (root / "spark" / "events").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "DBT_PROFILES_DIR": str(root / "profiles"),
        "SWEEP_SPARK_DIR": str(root / "spark"),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run_build(
    project: Path, root: Path, *, memory: bool, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``dbt build`` in ``project``; returns wall time, return code, and memory peaks if asked.

    ``env`` adds to the build's environment (e.g. ``SPARK_MASTER_URL`` for the cluster target).
    """
    command = [
        DBT, "build", "--project-dir", str(project), "--profiles-dir", str(root / "profiles"),
        "--log-format-file", "json", "--log-level-file", "debug", "--log-path", str(project / "logs"),
        "--target-path", str(project / "target"),
    ]  # fmt: skip
    stdout = (root / "dbt_stdout.txt").open("w")
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=project,
        env={**dbt_env(root), **(env or {})},
        stdout=stdout,
        stderr=subprocess.STDOUT,
    )
    sampler = MemorySampler(process.pid) if memory else None
    if sampler:
        sampler.start()
    code = process.wait()
    wall = time.perf_counter() - start
    stdout.close()
    out: dict[str, Any] = {"returncode": code, "wall_seconds": wall}
    if sampler:
        sampler.stop()
        out["memory_mb"] = sampler.peaks()
    return out


def run_results(project: Path) -> dict[str, Any]:
    """Per-node execution times from ``target/run_results.json`` (execute phase and total)."""
    results = json.loads((project / "target" / "run_results.json").read_text())
    nodes = {}
    for node in results["results"]:
        name = (
            node["unique_id"].split(".")[-1]
            if node["unique_id"].startswith("model.")
            else node["unique_id"]
        )
        phases = {
            t["name"]: _seconds(t["started_at"], t["completed_at"]) for t in node.get("timing", [])
        }
        nodes[name] = {"status": node["status"], "execution_time": node["execution_time"], **phases}
    return {"elapsed_time": results.get("elapsed_time"), "nodes": nodes}


def _seconds(start: str, end: str) -> float:
    from datetime import datetime

    return (
        datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z"))
    ).total_seconds()
