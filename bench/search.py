"""Does an Optuna search match a dense grid with a third of the fits? Pure pandas, no Spark.

Issue #8's figure: "on a benchmark scenario the Optuna search reaches the grid's best primary
metric (within 1%) with at most a third of the fits".

Scenario (fixed before measuring): ``scripts/make_demo_data.py``'s ``regression_groups``, 10 groups x
1000 rows (8 features, 5 informative, noise 10), random split 80/20, so a search validates on 160
rows (the previous run used 200-row groups: its 32 validation rows were too noisy to rank
configurations, which is what made the search lose). Per group:

- ``grid``: a dense SVR grid, 10 ``C`` (log 0.1..1000) x 5 ``epsilon`` (log 0.01..10) x 2 kernels =
  100 runs, each fitted on the training split and scored on the test split. Its figure, ``grid_best``,
  is the grid's winner as the sweep picks it: the best test rmse of the 100 (``best_models``);
- ``grid_val``: the same 100 points chosen the way a search chooses (best rmse on the search's
  validation split), refit on the training split, scored on the test split: the like-for-like bar;
- ``optuna`` / ``random``: one search run over the same ranges (``C``, ``epsilon`` log-scale, kernel a
  choice) with ``--trials`` trials (default 30) on the validation split, then the winner refit on the
  training split and scored on the same test split: ``trials + 1`` fits (31 <= 100 / 3).

Prints a markdown table per seed (test rmse per group and its ratio to each grid bar) and the means,
and writes everything to ``bench/results/search-<UTC time>.json``. Run on demand::

    python bench/search.py                          # 10 groups x 1000 rows, 30 trials, seeds 0,1,2
    python bench/search.py --rows 200 --seeds 0     # the previous session's scenario
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep.metrics import compute_metrics
from dbt_sweep.spec import parse_spec
from dbt_sweep.spec.search import grid_points
from dbt_sweep.training import train_group
from dbt_sweep.training.pipeline import build_pipeline
from dbt_sweep.training.prepare import prepare_unit
from dbt_sweep.training.search import validation_split

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WITHIN = 1.01  # "within 1%" of the grid's rmse


def _regression_groups(**kwargs: Any) -> pd.DataFrame:
    spec = importlib.util.spec_from_file_location(
        "make_demo_data", REPO / "scripts" / "make_demo_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.regression_groups(**kwargs)


def _spec(*, trials: int, seed: int) -> Any:
    space = {
        "C": {"float": [0.1, 1000.0], "log": True},
        "epsilon": {"float": [0.01, 10.0], "log": True},
        "kernel": {"choice": ["linear", "rbf"]},
    }
    grid = {
        "C": [float(c) for c in np.logspace(-1, 3, 10)],
        "epsilon": [float(e) for e in np.logspace(-2, 1, 5)],
        "kernel": ["linear", "rbf"],
    }
    raw = {
        "source": "feat_demo_regression", "group_by": ["group_id"], "key": "row_id", "target": "y",
        "task": "regression", "features": {"exclude": []},
        "estimators": [
            {"name": "grid", "estimator": "sklearn.svm.SVR", "grid": grid},
            {"name": "optuna", "estimator": "sklearn.svm.SVR", "search": "optuna", "space": space,
             "trials": trials, "seed": seed},
            {"name": "random", "estimator": "sklearn.svm.SVR", "search": "random", "space": space,
             "trials": trials, "seed": seed},
        ],
        "preprocessing": {"impute": {"strategy": "median"}, "scale": "standard"},
        "split": {"kind": "random", "test_size": 0.2, "seed": 42},
        "metrics": ["rmse", "mae", "r2"], "primary_metric": "rmse",
    }  # fmt: skip
    return parse_spec(raw, model="bench_search")


def _grid_by_validation(rows: pd.DataFrame, spec: Any, *, seed: int) -> float:
    """The grid's winner picked on the search's validation split, refit on training, test rmse."""
    group = prepare_unit(rows, spec)
    train, test = group.splits[0]
    inner, val = validation_split(
        train, size=spec.split.test_size, seed=seed, y=group.y, stratify=False
    )
    est = spec.estimators[0]

    def rmse(params: dict[str, Any], fit_rows: np.ndarray, score_rows: np.ndarray) -> float:
        pipe = build_pipeline(
            est.estimator, params, spec.preprocessing, task=spec.task,
            numeric=group.numeric, categorical=group.categorical, n_encoded=group.n_encoded,
        )  # fmt: skip
        pipe.fit(group.X.iloc[fit_rows], group.y[fit_rows])
        return compute_metrics(pipe, group.X.iloc[score_rows], group.y[score_rows], ["rmse"])[
            "rmse"
        ]

    best = min(grid_points(est.grid), key=lambda p: rmse(p, inner, val))
    return rmse(best, train, test)


def run(data: pd.DataFrame, grid_runs: pd.DataFrame, *, trials: int, seed: int) -> pd.DataFrame:
    """Run both searches on every group; return one row per group with the figures.

    ``grid_runs`` are the grid's runs (they do not depend on the search seed, so they are trained once).
    """
    spec = _spec(trials=trials, seed=seed)
    searches = spec.model_copy(update={"estimators": spec.estimators[1:]})
    start = time.perf_counter()
    runs = train_group(data, searches)
    elapsed = time.perf_counter() - start
    assert set(runs["status"]) == {"ok"}, runs.loc[runs["status"] != "ok", "error"].tolist()
    out = []
    for group_id, frame in runs.groupby("group_id", sort=True):
        grid = grid_runs[grid_runs["group_id"] == group_id]
        row: dict[str, Any] = {
            "group_id": group_id,
            "grid_best": grid["rmse"].min(),
            "grid_fits": len(grid),
        }
        row["grid_seconds"] = grid["fit_seconds"].sum()
        row["grid_val"] = _grid_by_validation(data[data["group_id"] == group_id], spec, seed=seed)
        for name in ("optuna", "random"):
            search = frame[frame["estimator_name"] == name].iloc[0]
            row[name] = search["rmse"]
            row[f"{name}_vs_best"] = search["rmse"] / row["grid_best"]
            row[f"{name}_vs_val"] = search["rmse"] / row["grid_val"]
            row[f"{name}_fits"] = len(json.loads(search["trials"])) + 1
            row[f"{name}_seconds"] = search["fit_seconds"]
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs["seconds"] = elapsed
    return table


def train_grid(data: pd.DataFrame) -> pd.DataFrame:
    """The dense grid's 100 runs per group, as the sweep trains them."""
    spec = _spec(trials=1, seed=0)
    runs = train_group(data, spec, estimator="grid")
    assert set(runs["status"]) == {"ok"}, runs.loc[runs["status"] != "ok", "error"].tolist()
    return runs


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """Means and within-1% counts over the groups of one seed."""
    n = len(table)
    out: dict[str, Any] = {"groups": n, "grid_fits": int(table["grid_fits"].iloc[0])}
    for col in (
        "grid_best",
        "grid_val",
        "optuna",
        "random",
        "grid_seconds",
        "optuna_seconds",
        "random_seconds",
    ):
        out[f"mean_{col}"] = float(table[col].mean())
    for name in ("optuna", "random"):
        out[f"{name}_fits"] = int(table[f"{name}_fits"].iloc[0])
        for bar in ("best", "val"):
            ratios = table[f"{name}_vs_{bar}"]
            out[f"{name}_vs_{bar}_mean_ratio"] = float(ratios.mean())
            out[f"{name}_vs_{bar}_ratio_of_means"] = float(
                table[name].mean() / table[f"grid_{bar}"].mean()
            )
            out[f"{name}_vs_{bar}_within_1pct"] = int((ratios <= WITHIN).sum())
    return out


def _print(seed: int, table: pd.DataFrame, stats: dict[str, Any]) -> None:
    print(f"## seed {seed} ({table.attrs['seconds']:.1f} s training)\n")
    shown = table[["group_id", "grid_best", "grid_val", "optuna", "optuna_vs_best", "optuna_vs_val",
                   "random", "random_vs_best", "random_vs_val"]]  # fmt: skip
    if importlib.util.find_spec("tabulate") is not None:
        print(shown.to_markdown(index=False, floatfmt=".4f"))
    else:
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    n = stats["groups"]
    for name in ("optuna", "random"):
        print(
            f"\n{name} ({stats[f'{name}_fits']} fits vs the grid's {stats['grid_fits']}): "
            f"vs grid's best (test-picked) mean ratio {stats[f'{name}_vs_best_mean_ratio']:.4f}, "
            f"{stats[f'{name}_vs_best_within_1pct']}/{n} groups within 1%; "
            f"vs grid picked on the same validation rows mean ratio {stats[f'{name}_vs_val_mean_ratio']:.4f}, "
            f"{stats[f'{name}_vs_val_within_1pct']}/{n} within 1%"
        )
    print(
        f"mean test rmse: grid best {stats['mean_grid_best']:.4f}, grid by validation "
        f"{stats['mean_grid_val']:.4f}, optuna {stats['mean_optuna']:.4f}, random {stats['mean_random']:.4f}"
    )
    print(
        f"fit seconds per group: grid {stats['mean_grid_seconds']:.3f}, optuna "
        f"{stats['mean_optuna_seconds']:.3f}, random {stats['mean_random_seconds']:.3f}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated search seeds")
    args = parser.parse_args()
    print(
        f"# Search vs dense grid: {args.groups} groups x {args.rows} rows, SVR, rmse on the test split\n"
    )
    print(f"grid: 100 fits per group; optuna/random: {args.trials} trials + 1 refit per group\n")
    report: dict[str, Any] = {
        "scenario": vars(args), "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average": os.getloadavg(), "seeds": {},
    }  # fmt: skip
    data = _regression_groups(groups=args.groups, rows=args.rows).drop(
        columns=["split"], errors="ignore"
    )
    start = time.perf_counter()
    grid_runs = train_grid(data)
    report["grid_seconds"] = time.perf_counter() - start
    print(f"grid trained in {report['grid_seconds']:.1f} s\n")
    for seed in [int(s) for s in args.seeds.split(",")]:
        table = run(data, grid_runs, trials=args.trials, seed=seed)
        stats = summary(table)
        _print(seed, table, stats)
        report["seeds"][seed] = {
            "summary": stats,
            "groups": table.to_dict("records"),
            "seconds": table.attrs["seconds"],
        }
    report["load_average_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"search-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2, default=float))
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
