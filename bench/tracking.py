"""What MLflow tracking costs a sweep: the same sweep untracked and at each tracking level, in one run.

Calls the library directly on a local SparkSession (no dbt: dbt's own overhead is the same for every
variant and would only blur the ratios). Each tracked variant logs into a fresh embedded SQLite store
in a temporary folder, so no variant reuses another's runs. Run on demand:

    python bench/tracking.py [--groups 20] [--rows 200] [--cores 2]

Prints wall time per variant, its overhead against the untracked run, and the overhead per child
run (level runs) and per logged model (log_models: best / all), plus the ratio to the untracked run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from dbt_sweep.sweep import sweep_manifest, sweep_runs

SPEC: dict[str, Any] = {
    "source": "bench",
    "group_by": ["g"],
    "target": "y",
    "task": "regression",
    "features": {"exclude": []},
    "estimators": [
        {"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]}},
        {"estimator": "sklearn.tree.DecisionTreeRegressor", "params": {"random_state": 0},
         "grid": {"max_depth": [2, 3, 4, 6, 8]}},
    ],
    "preprocessing": {"scale": "standard"},
    "metrics": ["rmse", "mae", "r2"],
}

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("untracked", {"enabled": False}),
    ("runs, no models", {"level": "runs", "log_models": "none"}),
    ("runs, best models", {"level": "runs", "log_models": "best"}),
    ("runs, all models", {"level": "runs", "log_models": "all"}),
    ("groups, best models", {"level": "groups", "log_models": "best"}),
    ("sweep, best models", {"level": "sweep", "log_models": "best"}),
]


def _data(groups: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(groups * rows, 8))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    frame.insert(0, "g", np.repeat([f"g{i:03d}" for i in range(groups)], rows))
    frame["y"] = X @ rng.normal(size=8) + rng.normal(scale=0.1, size=len(frame))
    return frame


def _run(spark: SparkSession, features: Any, tracking: dict[str, Any], root: Path) -> tuple[float, int]:
    spec = {**SPEC, "tracking": {**tracking, "uri": f"sqlite:///{root / 'mlflow.db'}", "rerun": True}}
    manifest = sweep_manifest(features, spec, model="bench_manifest").cache()
    n = manifest.count()
    start = time.perf_counter()
    runs = sweep_runs(features, manifest, spec, model="bench_runs")
    runs.write.mode("overwrite").format("noop").save()
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers import dbt_sweep from this venv
    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(args.cores * 2))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    features = spark.createDataFrame(_data(args.groups, args.rows)).cache()
    features.count()
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up: JVM, Python workers, mlflow imports and store creation are paid once per process.
        _run(spark, features, {"level": "runs", "log_models": "best"}, Path(tmp) / "warmup")
        results = []
        for name, tracking in VARIANTS:
            root = Path(tmp) / name.replace(" ", "_").replace(",", "")
            root.mkdir()
            seconds, n = _run(spark, features, tracking, root)
            results.append((name, tracking, seconds, n))
    base = results[0][2]
    print(f"{args.groups} groups x {len(results[0]) and results[0][3] // args.groups} runs, "
          f"{args.rows} rows per group, local[{args.cores}]")  # fmt: skip
    print(f"{'variant':<22}{'wall s':>8}{'x untracked':>13}{'overhead s':>12}{'per child ms':>14}{'per model ms':>14}")
    no_models = None
    for name, tracking, seconds, n in results:
        overhead = seconds - base
        per_child = per_model = ""
        if tracking.get("level") == "runs" and tracking.get("log_models") == "none":
            no_models = overhead
            per_child = f"{1000 * overhead / n:.1f}"
        if tracking.get("log_models") in ("best", "all") and no_models is not None:
            models = n if tracking["log_models"] == "all" else args.groups
            extra = overhead - (no_models if tracking.get("level") == "runs" else 0.0)
            per_model = f"{1000 * extra / models:.1f}"
        print(f"{name:<22}{seconds:>8.2f}{seconds / base:>13.2f}{overhead:>12.2f}{per_child:>14}{per_model:>14}")
    spark.stop()


if __name__ == "__main__":
    main()
