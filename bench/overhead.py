"""Per-run overhead of dbt-sweep's training in one process (no Spark): issue 14's target 2.

    python bench/overhead.py                   # W1 (1,000 groups x 100 rows, LinearRegression + SVR)
    python bench/overhead.py --scale 0.1       # a quick check (100 groups)

Calls :func:`dbt_sweep.training.train_group` on the W1 data and its spec (``bench/workloads.py``)
in this process, warm: first on a few groups (imports, scikit-learn's and skops' first calls), then
once on all of them. The figure is

    overhead = (wall of train_group - sum(fit_seconds + score_seconds)) / sum(fit_seconds + score_seconds)

with the fit and score seconds that train_group reports per run. The wall includes everything the
call does besides fitting and scoring: the manifest (``build_manifest`` on the groups' stats),
splitting the frame into units, preparation, serialising the models, building the result rows.
``train_units_seconds`` is the same call without the manifest (``train_units`` on the manifest it
built), for reading which part dominates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import GROUP, Variant, Workload, _make_demo_data, workloads  # noqa: E402

TARGET = 0.25  # overhead at most 25% of fit + score
WARM_GROUPS = 5


def measure(
    workload: Workload, data: pd.DataFrame, *, warm_groups: int = WARM_GROUPS
) -> dict[str, Any]:
    """Per-run overhead of ``train_group`` on ``data`` (the scenario's rows), warm, in this process."""
    from dbt_sweep.manifest import build_manifest, group_stats
    from dbt_sweep.spec import parse_spec
    from dbt_sweep.training import train_group
    from dbt_sweep.training.bins import train_units

    spec = parse_spec(workload.spec(Variant("sweep")), model="sweep_runs")
    groups = sorted(data[GROUP].unique())
    warm = data[data[GROUP].isin(groups[:warm_groups])]
    train_group(warm, spec)  # warm-up: imports and first calls
    start = time.perf_counter()
    result = train_group(data, spec)
    wall = time.perf_counter() - start
    fit = float(result["fit_seconds"].sum())
    score = float(result["score_seconds"].sum())
    fit_score = fit + score
    # The same training without the manifest, to split the overhead (not part of the target).
    manifest = build_manifest(spec, group_stats(data, spec), parallelism=1).reset_index(drop=True)
    start = time.perf_counter()
    again = train_units(data, manifest, spec)
    units_wall = time.perf_counter() - start
    units_fit_score = float(again["fit_seconds"].sum() + again["score_seconds"].sum())
    statuses = result["status"].value_counts().to_dict() if "status" in result else {}
    return {
        "groups": len(groups),
        "runs": len(result),
        "statuses": {str(k): int(v) for k, v in statuses.items()},
        "wall_seconds": wall,
        "fit_seconds": fit,
        "score_seconds": score,
        "fit_score_seconds": fit_score,
        "overhead_seconds": wall - fit_score,
        "overhead_ratio": (wall - fit_score) / fit_score if fit_score else None,
        "ms_per_run": 1000 * wall / max(len(result), 1),
        "overhead_ms_per_run": 1000 * (wall - fit_score) / max(len(result), 1),
        "train_units_seconds": units_wall,
        "train_units_overhead_ratio": (units_wall - units_fit_score) / units_fit_score
        if units_fit_score
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies W1's groups")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    workload = workloads(args.scale)["W1"]
    data = _make_demo_data().regression_groups(groups=workload.groups, rows=workload.rows)
    out = measure(workload, data)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(
        f"W1 (scale {args.scale:g}): {out['groups']} groups, {out['runs']} runs {out['statuses']}"
    )
    print(
        f"train_group wall          {out['wall_seconds']:8.2f} s  ({out['ms_per_run']:.2f} ms per run)"
    )
    print(f"fit + score (reported)    {out['fit_score_seconds']:8.2f} s  "
          f"(fit {out['fit_seconds']:.2f}, score {out['score_seconds']:.2f})")  # fmt: skip
    print(
        f"overhead                  {out['overhead_seconds']:8.2f} s  ({out['overhead_ms_per_run']:.2f} ms per run)"
    )
    ratio = out["overhead_ratio"]
    print(f"overhead / (fit + score)  {100 * ratio:7.1f} %   [target <= {100 * TARGET:.0f}%] -> "
          f"{'met' if ratio is not None and ratio <= TARGET else 'NOT met'}")  # fmt: skip
    print(f"(without the manifest: train_units {out['train_units_seconds']:.2f} s, "
          f"overhead {100 * (out['train_units_overhead_ratio'] or 0):.1f} %)")  # fmt: skip


if __name__ == "__main__":
    main()
