"""The benchmark scenarios (W1-W5): data sizes, estimators, and the sweep spec each one runs.

Every scenario trains on ``scripts/make_demo_data.py``'s ``regression_groups`` data (columns
``row_id, group_id, x0..x7, y``) with the demo's preprocessing (median imputation, standard scaling),
its random 80/20 split (seed 42) and its regression metrics. ``--scale`` multiplies the number of
groups (W1, W2, W4, W5) or the rows per group and grid size (W3), so quick checks keep the shape.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
FEATURES = [f"x{i}" for i in range(8)]
TARGET = "y"
GROUP = "group_id"
SPLIT = {"kind": "random", "test_size": 0.2, "seed": 42}
METRICS = ["rmse", "mae", "r2", "mape"]

LINEAR = {"name": "linear_regression", "estimator": "sklearn.linear_model.LinearRegression"}
SVR = {"name": "svr", "estimator": "sklearn.svm.SVR"}
FOREST = {
    "name": "random_forest",
    "estimator": "sklearn.ensemble.RandomForestRegressor",
    "params": {"n_estimators": 50, "random_state": 0},
}


@dataclass(frozen=True)
class Variant:
    """One dbt build of a scenario (W3 has two: group-only units and (group, shard) units)."""

    name: str
    shards: str | int = "auto"
    # sweep_runs' per-model spark_conf (the plugin applies it to the model's own session)
    spark_conf: dict[str, str] = field(default_factory=dict)
    # MLflow tracking keys of the spec (None: tracking off, as the baselines); the runner adds the
    # store's ``uri`` (a SQLite file in the build's folder). Tracked variants only run when asked.
    tracking: dict[str, Any] | None = None


NO_COALESCE = {"spark.sql.adaptive.coalescePartitions.enabled": "false"}
# Issue 14's tracked W1: a child run per training run and each group's winner logged as a model.
TRACKED = Variant(
    "sweep_tracked",
    tracking={"enabled": True, "level": "runs", "log_models": "best", "rerun": True},
)


@dataclass(frozen=True)
class Workload:
    """One scenario at one size."""

    key: str
    title: str
    groups: int
    rows: int
    estimators: list[dict[str, Any]]
    skew: dict[int, int] = field(default_factory=dict)
    variants: tuple[Variant, ...] = (Variant("sweep"),)
    measure_memory: bool = False
    baselines: bool = True
    # without the baselines, still run the sequential loop for the fit+score sum and the ideal
    ideal: bool = False
    # False: only the plain script with Spark's defaults and the sequential loop (saves two runs)
    all_baselines: bool = True

    @property
    def n_rows(self) -> int:
        return self.groups * self.rows + sum(n - self.rows for n in self.skew.values())

    def configs(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(name, estimator path, params) for every grid point, as the baselines train them."""
        out = []
        for est in self.estimators:
            grid = est.get("grid", {})
            keys = sorted(grid)
            points = [
                dict(zip(keys, values, strict=True)) for values in _product([grid[k] for k in keys])
            ]
            for point in points:
                out.append((est["name"], est["estimator"], {**est.get("params", {}), **point}))
        return out

    def spec(self, variant: Variant) -> dict[str, Any]:
        """The sweep spec of the generated dbt project."""
        return {
            "source": "feat_bench",
            "group_by": [GROUP],
            "key": "row_id",
            "target": TARGET,
            "task": "regression",
            "features": {"exclude": []},
            "estimators": self.estimators,
            "preprocessing": {"impute": {"strategy": "median"}, "scale": "standard"},
            "split": SPLIT,
            "metrics": METRICS,
            "primary_metric": "rmse",
            "min_rows": 20,
            "shards": variant.shards,
            **({"tracking": dict(variant.tracking)} if variant.tracking else _no_tracking()),
        }


def _no_tracking() -> dict[str, Any]:
    """MLflow tracking off where the spec has it: the baselines do not track either."""
    from dbt_sweep.spec import SweepSpec

    return {"tracking": {"enabled": False}} if "tracking" in SweepSpec.model_fields else {}


def _product(lists: list[list[Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    for values in lists:
        out = [(*head, value) for head in out for value in values]
    return out


def _svr_grid(points: int) -> dict[str, Any]:
    """An RBF SVR grid of about ``points`` points: C x epsilon x 2 gammas (a linear kernel with a
    large C converges slowly and would make the grid one fit long)."""
    per_axis = max(1, round(math.sqrt(points / 2)))
    c_values = [round(10 ** (-1 + 3 * i / max(per_axis - 1, 1)), 4) for i in range(per_axis)]
    eps_values = [round(0.05 + 0.45 * i / max(per_axis - 1, 1), 3) for i in range(per_axis)]
    grid_points = per_axis * per_axis * 2
    if grid_points < points:  # pad epsilon so the grid has at least `points` points
        eps_values += [
            round(1.0 + 0.1 * i, 2)
            for i in range(math.ceil((points - grid_points) / (2 * per_axis)))
        ]
    return {"C": c_values, "epsilon": eps_values, "gamma": ["scale", 0.05]}


def _scaled(n: int, scale: float, minimum: int) -> int:
    return max(minimum, round(n * scale))


def workloads(scale: float) -> dict[str, Workload]:
    """All scenarios at ``scale`` (1.0 = the sizes of the issue)."""
    w3_rows = _scaled(2000, scale, 200)
    w3_grid = {**SVR, "grid": _svr_grid(_scaled(50, scale, 8))}
    w4_groups = _scaled(200, scale, 8)
    return {
        "W1": Workload(
            "W1",
            "seed workload",
            _scaled(1000, scale, 8),
            100,
            [LINEAR, SVR],
            variants=(
                Variant("sweep"),
                Variant("sweep_no_coalesce", spark_conf=NO_COALESCE),
                TRACKED,
            ),
        ),  # fmt: skip
        "W2": Workload(
            "W2",
            "compute-heavy",
            _scaled(200, scale, 4),
            1000,
            [LINEAR, SVR, FOREST],
            variants=(Variant("sweep"), Variant("sweep_no_coalesce", spark_conf=NO_COALESCE)),
            all_baselines=False,
        ),  # fmt: skip
        "W3": Workload(
            "W3",
            "few groups, many configs",
            4,
            w3_rows,
            [w3_grid],
            variants=(
                Variant("group_only", 1),
                Variant("group_shard", "auto"),
                Variant("group_shard_no_coalesce", "auto", NO_COALESCE),
            ),
            all_baselines=False,
        ),  # fmt: skip
        "W3b": Workload(
            "W3b",
            "one group, many configs",
            1,
            w3_rows,
            [w3_grid],
            variants=(Variant("group_only", 1), Variant("group_shard", "auto")),
            all_baselines=False,
        ),  # fmt: skip
        "W4": Workload(
            "W4",
            "skew (one group 50x)",
            w4_groups,
            200,
            [LINEAR, SVR],
            skew={0: 200 * 50},
            all_baselines=False,
        ),
        "W5": Workload(
            "W5",
            "scale (many small groups)",
            _scaled(20000, scale, 100),
            50,
            [LINEAR, SVR],
            measure_memory=True,
            baselines=False,
            ideal=True,
        ),
        "W5s": Workload(
            "W5s",
            "scale, 1/4 of the groups",
            _scaled(5000, scale, 25),
            50,
            [LINEAR, SVR],
            measure_memory=True,
            baselines=False,
        ),  # fmt: skip
    }


def _make_demo_data() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_demo_data", REPO / "scripts" / "make_demo_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_data(workload: Workload, path: Path) -> pd.DataFrame:
    """Generate the scenario's rows with the project's data generator and write them as parquet."""
    data = _make_demo_data().regression_groups(
        groups=workload.groups, rows=workload.rows, skew=workload.skew
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    data.to_parquet(path, index=False)
    return data
