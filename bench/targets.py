"""The same builds on each target: embedded local Spark, a standalone cluster, Spark Connect.

    /tmp/venv/bin/python bench/targets.py --scenarios demo,W1          # the issue's sizes
    /tmp/venv/bin/python bench/targets.py --scenarios W1 --scale 0.05  # a quick check

For each target the runner starts what it needs on 127.0.0.1 (``scripts/cluster.sh``: master + 2 workers of
1 core; ``scripts/connect.sh``: a Connect server on ``local[2]``), runs every scenario's ``dbt build`` there,
and stops it before the next target, so no idle service shares the cores with another target's build.
Services, projects and logs live under ``bench/results/<run>/``. Writes ``targets.json`` and
``targets.md`` there: whole ``dbt build`` wall time, and the ``sweep_manifest`` / ``sweep_runs`` nodes.
Baselines are ``bench/run.py``'s job; this compares targets only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dbt_build  # noqa: E402
from run import BENCH, _log, _machine, run_demo  # noqa: E402
from workloads import REPO, workloads, write_data  # noqa: E402

TARGETS = ("local", "cluster", "connect")
SERVICE_SCRIPT = {"cluster": "cluster.sh", "connect": "connect.sh"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def service(target: str, root: Path) -> Iterator[dict[str, str]]:
    """Start the target's service (none for local); yield the environment its builds need; stop it."""
    if target == "local":
        yield {}
        return
    port = _free_port()
    env = {
        **os.environ,
        "SWEEP_LOCAL_DIR": str(root / "services"),
        "SPARK_MASTER_PORT": str(port),
        "SPARK_MASTER_WEBUI_PORT": str(_free_port()),
        "SPARK_CONNECT_PORT": str(port),
        "PYTHON": sys.executable,
        "SWEEP_READY_TIMEOUT": "180",
    }
    script = str(REPO / "scripts" / SERVICE_SCRIPT[target])
    _log(f"{target}: starting {SERVICE_SCRIPT[target]}")
    subprocess.run([script, "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        if target == "cluster":
            yield {
                "SPARK_MASTER_URL": f"spark://127.0.0.1:{port}",
                "PYSPARK_PYTHON": sys.executable,
            }
        else:
            yield {"SPARK_REMOTE": f"sc://127.0.0.1:{port}"}
    finally:
        subprocess.run([script, "stop"], env=env, check=False, stdout=subprocess.DEVNULL)


def _nodes(project: Path) -> dict[str, float]:
    nodes = dbt_build.run_results(project)["nodes"]
    return {
        name: nodes[name]["execution_time"]
        for name in ("sweep_manifest", "sweep_runs")
        if name in nodes
    }


def run_scenario(
    name: str, scale: float, target: str, root: Path, env: dict[str, str]
) -> dict[str, Any]:
    """One ``dbt build`` of ``name`` (``demo`` or a workload key) on ``target``."""
    if name == "demo":
        split = run_demo(root, target=target, env=env)
        return {"build_wall_seconds": split["process_wall"], "nodes": _nodes(root / "project")}
    workload = workloads(scale)[name]
    data = root.parent / "data.parquet"
    if not data.exists():
        write_data(workload, data)
    variant = workload.variants[0]
    project = dbt_build.generate_project(
        root, data=data, spec=workload.spec(variant), spark_conf=variant.spark_conf, target=target
    )
    _log(f"{name}: dbt build on {target}")
    build = dbt_build.run_build(project, root, memory=False, env=env)
    if build["returncode"] != 0:
        raise RuntimeError(
            f"dbt build failed for {name} on {target}: see {root / 'dbt_stdout.txt'}"
        )
    return {
        "build_wall_seconds": build["wall_seconds"],
        "nodes": _nodes(project),
        "fits": workload.groups * len(workload.configs()),
    }


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# dbt-sweep on each target",
        "",
        f"{machine['cores']} cores, started {machine['started']}, load average at start "
        f"{machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}. "
        "cluster: standalone master + 2 workers x 1 core; connect: a Connect server on local[2].",
        "",
        "| scenario | target | whole `dbt build` (s) | `sweep_manifest` (s) | `sweep_runs` (s) | build / local |",
        "|---|---|---|---|---|---|",
    ]
    for name, by_target in results["scenarios"].items():
        local = by_target.get("local", {}).get("build_wall_seconds")
        for target, row in by_target.items():
            nodes = row["nodes"]
            ratio = f"{row['build_wall_seconds'] / local:.2f}" if local else "-"
            lines.append(
                f"| {name} | {target} | {row['build_wall_seconds']:.1f} | {nodes.get('sweep_manifest', 0):.1f} "
                f"| {nodes.get('sweep_runs', 0):.1f} | {ratio} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scenarios", default="demo,W1", help="comma-separated: demo, W1..W5")
    parser.add_argument(
        "--targets", default=",".join(TARGETS), help="comma-separated: local, cluster, connect"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="size factor of the workloads (1.0 = the issue's)"
    )
    parser.add_argument("--run", help="run name (default: a timestamp)")
    args = parser.parse_args()
    run = args.run or datetime.now().strftime("%Y%m%d-%H%M%S") + f"-targets-x{args.scale:g}"
    root = BENCH / "results" / run
    root.mkdir(parents=True, exist_ok=True)
    scenarios = [s.strip() for s in args.scenarios.split(",")]
    results: dict[str, Any] = {
        "machine": _machine(),
        "scale": args.scale,
        "scenarios": {s: {} for s in scenarios},
    }
    for target in args.targets.split(","):
        with service(target, root / target) as env:
            for name in scenarios:
                started = time.perf_counter()
                row = run_scenario(name, args.scale, target, root / name / target, env)
                results["scenarios"][name][target] = row
                _log(f"{name} on {target}: build {row['build_wall_seconds']:.1f} s "
                     f"({time.perf_counter() - started:.0f} s with set-up)")  # fmt: skip
                (root / "targets.json").write_text(json.dumps(results, indent=1, default=str))
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    (root / "targets.json").write_text(json.dumps(results, indent=1, default=str))
    (root / "targets.md").write_text(markdown(results))
    print(markdown(results))
    _log(f"wrote {root / 'targets.md'}")


if __name__ == "__main__":
    main()
