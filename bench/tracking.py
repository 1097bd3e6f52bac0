"""What MLflow tracking costs a sweep: the same sweep untracked and tracked, in one run.

    python bench/tracking.py --scenario compute            # target (c): W2, runs level + winners
    python bench/tracking.py --scenario seed               # target (d): W1, sweep level
    python bench/tracking.py --scenario compute --scale 0.1 --repeat 1   # a quick check
    python bench/tracking.py --scenario small              # every level on a small grid sweep

Calls the library on a local SparkSession (no dbt: dbt's own overhead is the same for every variant
and would only blur the ratios). The timed figure of a variant is ``sweep_runs`` plus writing its
result to Spark's ``noop`` sink: training, and with tracking the eager checkpoint, the driver's
logging, the figure and the parent run's artifacts. Each tracked variant logs into its own copy of an
empty embedded SQLite store created beforehand (so no variant reuses another's runs, and none pays
MLflow's schema migrations, which only the project's first build does; that cost is printed apart). Variants alternate (untracked, tracked, ...)
``--repeat`` times and the fastest of each counts, so a burst of load from another process on the
shared machine does not decide a ratio; the load average is printed with each timing.

Scenarios: ``compute`` is bench W2 (LinearRegression, SVR, RandomForest(50 trees); 200 groups x 1,000
rows), ``seed`` is bench W1 (LinearRegression, SVR; 1,000 groups x 100 rows), both with
``bench/workloads.py``'s data and spec; ``--scale`` multiplies the groups. ``small`` is a 5+5-point
grid per group at every tracking level.

Besides the wall-time ratios, the per-item costs are measured in this process on the scenario's own
results (``train_unit`` on up to 20 groups, no Spark), into a fresh store:

- (a) per child run: :func:`~dbt_sweep.tracking.child_runs.log_child_runs` per group (one transaction per
  unit, as a worker does), total / runs;
- (b) per logged model: :func:`~dbt_sweep.tracking.logged_models.log_sklearn_model` per group winner,
  warm; the first model of a process (MLflow imports, environment files) is measured apart in a
  fresh interpreter.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import GROUP, Variant, Workload, _make_demo_data, workloads  # noqa: E402

from dbt_sweep.models import sweep_manifest, sweep_runs  # noqa: E402

SMALL_SPEC: dict[str, Any] = {
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
}  # fmt: skip

UNTRACKED = ("untracked", {"enabled": False})
VARIANTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "small": [
        UNTRACKED,
        ("runs, no models", {"level": "runs", "log_models": "none"}),
        ("runs, best models", {"level": "runs", "log_models": "best"}),
        ("runs, all models", {"level": "runs", "log_models": "all"}),
        ("groups, best models", {"level": "groups", "log_models": "best"}),
        ("sweep, best models", {"level": "sweep", "log_models": "best"}),
    ],
    # (c): the runs level with the winners' models is the target; no models splits child runs from models
    "compute": [
        UNTRACKED,
        ("runs, best models", {"level": "runs", "log_models": "best"}),
        ("runs, no models", {"level": "runs", "log_models": "none"}),
    ],
    # (d): the sweep level (its default, the winners' models, and without models)
    "seed": [
        UNTRACKED,
        ("sweep, best models", {"level": "sweep", "log_models": "best"}),
        ("sweep, no models", {"level": "sweep", "log_models": "none"}),
        ("runs, best models", {"level": "runs", "log_models": "best"}),
    ],
}
TARGET = {"compute": ("runs, best models", 1.10), "seed": ("sweep, best models", 1.10)}


@dataclass
class Scenario:
    name: str
    data: pd.DataFrame
    spec: dict[str, Any]
    group: str


def scenario(name: str, scale: float, *, groups: int, rows: int) -> Scenario:
    if name == "small":
        rng = np.random.default_rng(0)
        X = rng.normal(size=(groups * rows, 8))
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
        frame.insert(0, "g", np.repeat([f"g{i:03d}" for i in range(groups)], rows))
        frame["y"] = X @ rng.normal(size=8) + rng.normal(scale=0.1, size=len(frame))
        return Scenario(name, frame, SMALL_SPEC, "g")
    workload: Workload = workloads(scale)["W2" if name == "compute" else "W1"]
    data = _make_demo_data().regression_groups(groups=workload.groups, rows=workload.rows)
    spec = workload.spec(Variant("sweep"))
    spec["source"] = "bench"
    return Scenario(name, data, spec, GROUP)


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _run(
    spark: SparkSession,
    features: Any,
    spec: dict[str, Any],
    tracking: dict[str, Any],
    root: Path,
    *,
    store: Path | None = None,
) -> float:
    root.mkdir(parents=True, exist_ok=True)
    if (
        store is not None
    ):  # an existing, empty store: what every build after the project's first opens
        shutil.copy(store, root / "mlflow.db")
    spec = {
        **spec,
        "tracking": {**tracking, "uri": f"sqlite:///{root / 'mlflow.db'}", "rerun": True},
    }
    manifest = sweep_manifest(features, spec, model="bench_manifest").cache()
    manifest.count()
    start = time.perf_counter()
    runs = sweep_runs(features, manifest, spec, model="bench_runs")
    runs.write.mode("overwrite").format("noop").save()
    seconds = time.perf_counter() - start
    manifest.unpersist()
    return seconds


def components(scn: Scenario, root: Path, *, max_groups: int = 20) -> dict[str, float]:
    """(a) ms per child run and (b) ms per winner model, on this scenario's own results (no Spark)."""
    from dbt_sweep.manifest import build_manifest, group_stats
    from dbt_sweep.spec import parse_spec
    from dbt_sweep.tracking.child_runs import log_child_runs
    from dbt_sweep.tracking.context import TrackingContext
    from dbt_sweep.tracking.logged_models import ModelToLog, log_sklearn_models
    from dbt_sweep.tracking.model_files import environment_files
    from dbt_sweep.tracking.store import client
    from dbt_sweep.training import sklearn_ready, train_unit
    from dbt_sweep.training.selection import best_runs

    spec = parse_spec(scn.spec, model="bench_runs")
    keys = sorted(scn.data[scn.group].unique())[:max_groups]
    data = scn.data[scn.data[scn.group].isin(keys)]
    manifest = build_manifest(spec, group_stats(data, spec), parallelism=1)
    units = [(g, frame, manifest[manifest[scn.group] == g]) for g, frame in data.groupby(scn.group)]
    results = [(frame, train_unit(frame, runs, spec), runs) for _, frame, runs in units]
    uri = f"sqlite:///{root / 'components.db'}"
    mlflow_client = client(uri)
    experiment_id = mlflow_client.create_experiment(
        "components", artifact_location=(root / "mlruns").as_uri()
    )
    parent = mlflow_client.create_run(experiment_id).info.run_id
    ctx = TrackingContext(
        uri, experiment_id, "components", mlflow_client.get_experiment(experiment_id).artifact_location, parent,
        "runs", "best", False, "fail", spec.group_by, list(spec.metrics or []),
        common_tags={"dbt_sweep.model": "bench_runs"}, primary_direction=spec.primary_direction,
    )  # fmt: skip
    environment_files()  # the once-per-process part, measured apart
    start = time.perf_counter()
    ids = [
        log_child_runs(result, runs["data_fingerprint"].tolist(), ctx)
        for _, result, runs in results
    ]
    child_seconds = time.perf_counter() - start
    n_runs = sum(len(i) for i in ids)
    features = spec.feature_columns(list(scn.data.columns))
    start = time.perf_counter()
    for (frame, result, _), run_ids in zip(
        results, ids, strict=True
    ):  # one call per unit, as a worker
        rows = result.assign(mlflow_run_id=run_ids)
        example = sklearn_ready(frame[features].head(5))
        models = [ModelToLog(row["mlflow_run_id"], bytes(row["model"]), "model", example)
                  for row in best_runs(rows, spec.group_by, spec.primary_direction).to_dict("records")]  # fmt: skip
        log_sklearn_models(
            mlflow_client,
            models,
            experiment_id=experiment_id,
            artifact_location=ctx.artifact_location,
        )
    model_seconds = time.perf_counter() - start
    return {
        "child_runs": n_runs,
        "ms_per_child_run": 1000 * child_seconds / n_runs,
        "models": len(results),
        "ms_per_model": 1000 * model_seconds / len(results),
    }


_CREATE_STORE = """
import sys, time
start = time.perf_counter()
from mlflow import MlflowClient
MlflowClient(sys.argv[1]).search_experiments()
print(time.perf_counter() - start)
"""


def create_store(path: Path) -> float:
    """Create an empty embedded store in a fresh interpreter; returns the seconds it took (what the
    project's first tracked build pays once: MLflow's schema migrations)."""
    out = subprocess.run(
        [sys.executable, "-c", _CREATE_STORE, f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


_FIRST_MODEL = """
import time
start = time.perf_counter()
from dbt_sweep.tracking.model_files import environment_files
environment_files()
print(time.perf_counter() - start)
"""


def first_model_seconds() -> float:
    """MLflow's imports and the environment files, once per fresh process (each Spark Python worker
    that logs a model, and the driver)."""
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_MODEL], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(VARIANTS), default="small")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies the groups (compute, seed)"
    )
    parser.add_argument("--groups", type=int, default=20, help="small only")
    parser.add_argument("--rows", type=int, default=200, help="small only")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--repeat", type=int, default=2, help="alternations; the fastest of each variant counts"
    )
    parser.add_argument(
        "--variants",
        default="",
        help="';'-separated subset of the variant names (untracked always runs)",
    )
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers import dbt_sweep from this venv
    scn = scenario(args.scenario, args.scale, groups=args.groups, rows=args.rows)
    variants = VARIANTS[args.scenario]
    if args.variants:
        wanted = {v.strip() for v in args.variants.split(";")}
        variants = [v for v in variants if v[0] in wanted or v is UNTRACKED]
    print(f"scenario {args.scenario}: {scn.data[scn.group].nunique()} groups, {len(scn.data)} rows, "
          f"local[{args.cores}], load {_load()}", flush=True)  # fmt: skip
    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    features = spark.createDataFrame(scn.data).cache()
    features.count()
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up on a few groups: JVM, Python workers, and MLflow's imports in them (paid once per
        # process; measured apart below).
        store = Path(tmp) / "empty.db"
        store_seconds = create_store(store)
        few = features.where(features[scn.group].isin(sorted(scn.data[scn.group].unique())[:4]))
        _run(
            spark,
            few,
            scn.spec,
            {"level": "runs", "log_models": "best"},
            Path(tmp) / "warmup",
            store=store,
        )
        n_runs = sweep_manifest(features, scn.spec, model="bench_manifest").count()
        for attempt in range(args.repeat):
            for name, tracking in variants:
                root = Path(tmp) / f"{attempt}-{name.replace(' ', '_').replace(',', '')}"
                seconds = _run(spark, features, scn.spec, tracking, root, store=store)
                print(f"  [{attempt}] {name:<22}{seconds:8.2f} s  load {_load()}", flush=True)
                best[name] = min(best.get(name, float("inf")), seconds)
        spark.stop()
        parts = components(scn, Path(tmp))
    first = first_model_seconds()
    base = best["untracked"]
    n_groups = scn.data[scn.group].nunique()
    print(f"\n{n_groups} groups, {n_runs} runs; fastest of {args.repeat}; load at end {_load()}")
    print(
        f"{'variant':<22}{'wall s':>8}{'x untracked':>13}{'overhead s':>12}{'per run ms':>12}{'per group ms':>14}"
    )
    for name, _ in variants:
        seconds = best[name]
        overhead = seconds - base
        print(f"{name:<22}{seconds:>8.2f}{seconds / base:>13.3f}{overhead:>12.2f}"
              f"{1000 * overhead / n_runs:>12.1f}{1000 * overhead / n_groups:>14.1f}")  # fmt: skip
    print(f"\n(a) child run, amortised (log_child_runs per unit, {parts['child_runs']} runs): "
          f"{parts['ms_per_child_run']:.2f} ms  [target <= 15 ms]")  # fmt: skip
    print(f"(b) winner model, warm ({parts['models']} models): {parts['ms_per_model']:.1f} ms  [target <= 80 ms]; "
          f"first model of a process (imports, environment files): {first:.2f} s")  # fmt: skip
    print(f"one-off, the project's first tracked build: creating the embedded store {store_seconds:.2f} s "
          "(every variant above opens an existing one)")  # fmt: skip
    if args.scenario in TARGET:
        name, limit = TARGET[args.scenario]
        ratio = best[name] / base
        letter = "c" if args.scenario == "compute" else "d"
        print(f"({letter}) {name}: {ratio:.3f}x untracked  [target <= {limit:.2f}x] -> "
              f"{'met' if ratio <= limit else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
