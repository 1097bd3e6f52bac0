"""Does an Optuna search match a dense grid with a third of the fits? Pure pandas, no Spark.

On ``scripts/make_demo_data.py``'s ``regression_groups`` (default 10 groups x 200 rows), per group:

- ``grid``: a dense SVR grid, 10 ``C`` (log 0.1..1000) x 5 ``epsilon`` (log 0.01..10) x 2 kernels = 100
  runs, each fitted on the training split and scored on the test split; its figure is the BEST test
  rmse of the 100 (an optimistic bar: the grid picks its winner on the test rows themselves);
- ``grid_val``: the same 100 grid points chosen the way a search chooses (best rmse on the search's
  validation split of the training rows), refit on the training split, scored on the test split: the
  fair comparison (200 fits);
- ``optuna`` / ``random``: one search run over the same ranges with ``--trials`` trials (default 30) on a
  validation split carved from the training rows, then the winner refit on the training split and
  scored on the same test split: ``trials + 1`` fits.

Prints a markdown table per group (test rmse, ratio to the grid's best, fits) and the means, and
whether the search is within 1% of the grid. Run on demand::

    python bench/search.py                       # 10 groups x 200 rows, 30 trials, seed 0
    python bench/search.py --trials 20 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep._metrics import compute_metrics
from dbt_sweep._pipeline import build_pipeline
from dbt_sweep._search import validation_split
from dbt_sweep.manifest import _grid_points
from dbt_sweep.spec import parse_spec
from dbt_sweep.train import _prepare, train_group

REPO = Path(__file__).resolve().parents[1]


def _regression_groups(**kwargs: Any) -> pd.DataFrame:
    spec = importlib.util.spec_from_file_location("make_demo_data", REPO / "scripts" / "make_demo_data.py")
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
    group = _prepare(rows, spec)
    train, test = group.splits[0]
    inner, val = validation_split(train, size=spec.split.test_size, seed=seed, y=group.y, stratify=False)
    est = spec.estimators[0]

    def rmse(params: dict[str, Any], fit_rows: np.ndarray, score_rows: np.ndarray) -> float:
        pipe = build_pipeline(
            est.estimator, params, spec.preprocessing, task=spec.task,
            numeric=group.numeric, categorical=group.categorical, n_encoded=group.n_encoded,
        )  # fmt: skip
        pipe.fit(group.X.iloc[fit_rows], group.y[fit_rows])
        return compute_metrics(pipe, group.X.iloc[score_rows], group.y[score_rows], ["rmse"])["rmse"]

    points = _grid_points(est.grid)
    best = min(points, key=lambda p: rmse(p, inner, val))
    return rmse(best, train, test)


def run(*, groups: int, rows: int, trials: int, seed: int) -> pd.DataFrame:
    """Train the three estimators on every group; return one row per group with the figures."""
    data = _regression_groups(groups=groups, rows=rows).drop(columns=["split"], errors="ignore")
    spec = _spec(trials=trials, seed=seed)
    start = time.perf_counter()
    runs = train_group(data, spec)
    elapsed = time.perf_counter() - start
    assert set(runs["status"]) == {"ok"}, runs.loc[runs["status"] != "ok", "error"].tolist()
    out = []
    for group_id, frame in runs.groupby("group_id", sort=True):
        grid = frame[frame["estimator_name"] == "grid"]
        row: dict[str, Any] = {"group_id": group_id, "grid_best": grid["rmse"].min(), "grid_fits": len(grid)}
        row["grid_seconds"] = grid["fit_seconds"].sum()
        row["grid_val"] = _grid_by_validation(data[data["group_id"] == group_id], spec, seed=seed)
        for name in ("optuna", "random"):
            search = frame[frame["estimator_name"] == name].iloc[0]
            row[name] = search["rmse"]
            row[f"{name}_ratio"] = search["rmse"] / row["grid_best"]
            row[f"{name}_seconds"] = search["fit_seconds"]
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs["seconds"] = elapsed
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", default="0", help="comma-separated search seeds")
    args = parser.parse_args()
    fits = args.trials + 1
    print(f"# Search vs dense grid: {args.groups} groups x {args.rows} rows, SVR, rmse on the test split\n")
    print(f"grid: 100 fits per group; optuna/random: {args.trials} trials + 1 refit = {fits} fits per group\n")
    for seed in [int(s) for s in args.seeds.split(",")]:
        table = run(groups=args.groups, rows=args.rows, trials=args.trials, seed=seed)
        print(f"## seed {seed} ({table.attrs['seconds']:.1f} s)\n")
        table["optuna_vs_grid_val"] = table["optuna"] / table["grid_val"]
        shown = table[["group_id", "grid_best", "grid_val", "optuna", "optuna_ratio", "optuna_vs_grid_val",
                       "random", "random_ratio"]]  # fmt: skip
        print(shown.to_markdown(index=False, floatfmt=".4f") if _has_tabulate() else shown.to_string(index=False))
        means = table[["grid_best", "grid_val", "optuna", "optuna_ratio", "optuna_vs_grid_val", "random",
                       "random_ratio"]].mean()  # fmt: skip
        within = {name: int((table[f"{name}_ratio"] <= 1.01).sum()) for name in ("optuna", "random")}
        print(
            f"\nmean: grid best {means['grid_best']:.4f}, optuna {means['optuna']:.4f} "
            f"(ratio {means['optuna_ratio']:.4f}, {within['optuna']}/{len(table)} groups within 1%), "
            f"random {means['random']:.4f} (ratio {means['random_ratio']:.4f}, "
            f"{within['random']}/{len(table)} within 1%)"
        )
        fair = int((table["optuna_vs_grid_val"] <= 1.01).sum())
        print(
            f"fair (grid winner picked on the same validation split): grid {means['grid_val']:.4f}, optuna/grid "
            f"{means['optuna_vs_grid_val']:.4f}, {fair}/{len(table)} groups within 1%"
        )
        print(
            f"fit seconds per group: grid {table['grid_seconds'].mean():.3f}, optuna "
            f"{table['optuna_seconds'].mean():.3f}, random {table['random_seconds'].mean():.3f}\n"
        )


def _has_tabulate() -> bool:
    return importlib.util.find_spec("tabulate") is not None


if __name__ == "__main__":
    main()
