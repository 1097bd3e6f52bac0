"""Scheduled builds retrain only what changed: W1 built once, then again after 1% of its groups'
rows changed.

    python bench/incremental.py                 # W1 at full size (1,000 groups x 100 rows)
    python bench/incremental.py --scale 0.05    # a quick check
    python bench/incremental.py --check         # exit 1 unless the targets are met

Both builds run the same generated project (bench/dbt_build.py's, with ``sweep_runs`` incremental
as in python_models/); between them the target of 1% of the groups is perturbed in the parquet file
the feature model reads. Reported per build: the ``sweep_runs`` node time (run_results.json) and the
runs it trained (the build's log line ``N runs to train, M carried forward unchanged, K removed``).
Targets (issue 15): the second build trains exactly the changed groups' runs, and its ``sweep_runs``
node takes at most 10% of the first build's. A third build with no change shows the node's floor
(plan, carry, write and swap, nothing trained), which bounds the second.
Writes ``bench/results/incremental-<time>/results.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dbt_build  # noqa: E402
import eventlog  # noqa: E402
from workloads import GROUP, TARGET, workloads, write_data  # noqa: E402

BENCH = Path(__file__).resolve().parent
PLAN = re.compile(
    r"sweep_runs: (\d+) runs to train, (\d+) carried forward unchanged, (\d+) removed"
)
INCREMENTAL_RUNS_MODEL = """import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    previous = session.table(str(dbt.this)) if dbt.is_incremental else None
    return dbt_sweep.models.sweep_runs(
        dbt.ref("feat_bench"),
        dbt.ref("sweep_manifest"),
        spec,
        model=dbt.this.identifier,
        previous=previous,
        retry=dbt.config.get("sweep_retry"),
    )
"""
INCREMENTAL_CONFIG = {
    "materialized": "incremental",
    "incremental_strategy": "insert_overwrite",
    "on_schema_change": "fail",
    "sweep_retry": "{{ var('sweep_retry', '') }}",
}


def make_incremental(project: Path) -> None:
    """Turn the generated project's ``sweep_runs`` into the incremental model the demo has."""
    (project / "models" / "sweep_runs.py").write_text(INCREMENTAL_RUNS_MODEL)
    path = project / "models" / "_models.yml"
    models = yaml.safe_load(path.read_text())
    for model in models["models"]:
        if model["name"] == "sweep_runs":
            model["config"].update(INCREMENTAL_CONFIG)
    path.write_text(yaml.safe_dump(models, sort_keys=False))


def change_groups(data: Path, share: float, *, seed: int = 0) -> list[str]:
    """Perturb the target of ``share`` of the groups in the parquet file; returns those groups."""
    frame = pd.read_parquet(data)
    groups = sorted(frame[GROUP].unique())
    n = max(1, round(share * len(groups)))
    changed = list(np.random.default_rng(seed).choice(groups, size=n, replace=False))
    rows = frame[GROUP].isin(changed)
    frame.loc[rows, TARGET] = frame.loc[rows, TARGET] + 1.0
    frame.to_parquet(data, index=False)
    return [str(g) for g in changed]


def build(project: Path, root: Path) -> dict[str, Any]:
    """One ``dbt build``; the sweep_runs node time and the log's plan line."""
    result = dbt_build.run_build(project, root, memory=False)
    log = (root / "dbt_stdout.txt").read_text()
    if result["returncode"] != 0:
        raise RuntimeError(f"dbt build failed: see {root / 'dbt_stdout.txt'}")
    plan = PLAN.search(log)
    if plan is None:
        raise RuntimeError("the build's log has no plan line for sweep_runs")
    nodes = dbt_build.run_results(project)["nodes"]
    return {
        "build_wall_seconds": result["wall_seconds"],
        "sweep_runs_seconds": nodes["sweep_runs"]["execution_time"],
        "trained": int(plan[1]),
        "carried": int(plan[2]),
        "removed": int(plan[3]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="W1's size (1.0: 1,000 groups)")
    parser.add_argument("--share", type=float, default=0.01, help="share of groups changed")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the project and event logs")
    args = parser.parse_args()
    out = BENCH / "results" / f"incremental-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    workload = workloads(args.scale)["W1"]
    runs_per_group = len(workload.configs())
    with tempfile.TemporaryDirectory(prefix="sweep-incremental-") as tmp:
        root = out / "work" if args.keep else Path(tmp)
        data = root / "data" / "w1.parquet"
        write_data(workload, data)
        project = dbt_build.generate_project(
            root, data=data, spec=workload.spec(workload.variants[0])
        )
        make_incremental(project)
        first = build(project, root)
        changed = change_groups(data, args.share)
        earlier = eventlog.logs(root / "spark" / "events")
        second = build(project, root)
        # the second build's sweep_runs jobs: where a build that trains little spends its time
        jobs = eventlog.summary(root / "spark" / "events", skip=earlier)
        second["sweep_runs_jobs"] = next(
            (items for group, items in jobs.items() if group.endswith("sweep_runs")), []
        )
        # Nothing changed: what the node costs besides training (plan, carry, write, swap).
        unchanged = build(project, root)
    ratio = second["sweep_runs_seconds"] / first["sweep_runs_seconds"]
    floor = unchanged["sweep_runs_seconds"] / first["sweep_runs_seconds"]
    expected = len(changed) * runs_per_group
    targets = [
        ("second build trains exactly the changed groups' runs", f"{second['trained']} of {expected}",
         second["trained"] == expected and second["carried"] == first["trained"] - expected),
        ("second sweep_runs node <= 10% of the first", f"{ratio:.3f}", ratio <= 0.10),
    ]  # fmt: skip
    print(f"W1 x{args.scale}: {workload.groups} groups, {runs_per_group} runs each; "
          f"{len(changed)} groups changed")  # fmt: skip
    builds = (("first build", first), ("second build", second), ("third, no change", unchanged))
    for name, figures in builds:
        print(f"  {name}: sweep_runs {figures['sweep_runs_seconds']:.1f} s, build "
              f"{figures['build_wall_seconds']:.1f} s, trained {figures['trained']}, "
              f"carried {figures['carried']}, removed {figures['removed']}")  # fmt: skip
    for name, figure, met in targets:
        print(f"  {name}: {figure} -> {'met' if met else 'NOT MET'}")
    print(f"  floor (third build, nothing trained) / first: {floor:.3f}")
    (out / "results.json").write_text(
        json.dumps(
            {"scale": args.scale, "share": args.share, "changed_groups": changed,
             "first": first, "second": second, "unchanged": unchanged, "ratio": ratio,
             "floor_ratio": floor,
             "targets": [{"name": n, "figure": f, "met": m} for n, f, m in targets],
             "at": time.time()},
            indent=2,
        )
    )  # fmt: skip
    return 0 if (not args.check or all(met for _, _, met in targets)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
