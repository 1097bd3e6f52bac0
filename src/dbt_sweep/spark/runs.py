"""The Spark side of ``sweep_runs``: features and manifest cogrouped by bins of work units, each bin
trained by :func:`dbt_sweep.training.train_units` in a Spark Python worker, tracking opened and
closed around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dbt_sweep.log import get_logger
from dbt_sweep.manifest import WORK_UNIT_SHARD_COLUMN, unit_columns
from dbt_sweep.plugin.node import dbt_invocation_id, dbt_node
from dbt_sweep.spark import columns as _spark
from dbt_sweep.spark.carry import RunPlan, plan_runs, trained_with
from dbt_sweep.spark.driver import on_driver, train_on_driver
from dbt_sweep.spark.manifest import training_columns
from dbt_sweep.spark.oversized import oversized_keys, oversized_rows
from dbt_sweep.spark.progress import Counters, ProgressMonitor
from dbt_sweep.spark.slots import UNIT, assign_slots, slot_schema, with_slots
from dbt_sweep.spec import SweepSpec
from dbt_sweep.tracking import (
    TrackingContext,
    fail_parent,
    finish_tracking,
    models_to_log,
    record_plan,
    start_tracking,
    track_unit,
)
from dbt_sweep.training import run_schema, sklearn_ready, train_units
from dbt_sweep.training.row_check import check_manifest

__all__ = ["train_runs"]

_EXAMPLE_ROWS = 5  # input example of a logged MLflow model


def train_runs(
    features: DataFrame,
    manifest: DataFrame,
    sweep: SweepSpec,
    *,
    model: str,
    previous: DataFrame | None = None,
    retry: str | None = None,
    progress_interval: float | None = None,
) -> DataFrame:
    """Train the manifest rows of a validated spec whose identity is new or changed, and carry the
    others forward from ``previous`` (see :func:`dbt_sweep.models.sweep_runs`)."""
    current = manifest.select(
        "run_key", "data_fingerprint", "estimator_name", "estimator", "search", "params", "n_rows"
    ).toPandas()  # one small collect: the row check, the plan and the size check read it
    _check_rows(current, sweep, manifest=_spark.table_name(manifest, "sweep_manifest"))
    versions = trained_with(sweep)
    plan = plan_runs(
        manifest,
        current,
        None if sweep.retrain == "all" else previous,
        versions=versions,
        group_by=sweep.group_by,
        retry=retry,
    )
    get_logger().info(plan.summary(model))
    schema = _runs_schema(features, sweep)
    failed, n_failed = None, 0
    oversized = oversized_keys(current, sweep) if plan.n_train else []
    if oversized:  # never sent to a worker: fail them here, by name
        to_train, failed, n_failed = oversized_rows(plan.to_train, oversized, sweep, schema)
        plan = replace(plan, to_train=to_train)
        if n_failed:
            get_logger().warning(
                f"{model}: {n_failed} runs failed without training: their groups have more rows "
                f"than sweep.max_group_rows ({sweep.max_group_rows:,}); see their error"
            )
    if plan.n_train > n_failed:
        trained = _train(
            features, plan, sweep, model=model, versions=versions,
            progress_interval=progress_interval,
        )  # fmt: skip
    else:  # nothing changed: no Spark job, no MLflow run
        trained = _spark.local_frame(features.sparkSession, schema)
    if failed is not None:
        trained = trained.unionByName(failed.select(*trained.columns))
    runs = trained.select(
        *[
            F.col(f"`{c}`")
            for c in trained.columns
            if c not in ("mlflow_run_id", "data_fingerprint")
        ],
        # Where the marts read how to rank runs (best_models) without knowing the spec.
        F.lit(sweep.primary_metric).alias("primary_metric_name"),
        F.lit(sweep.primary_direction).alias("primary_direction"),
        F.col("mlflow_run_id"),
        F.lit(dbt_invocation_id()).cast("string").alias("dbt_invocation_id"),
        F.col("data_fingerprint"),
        F.lit(versions).alias("trained_with"),
    )
    if plan.carried is None:
        return runs
    return runs.unionByName(plan.carried.select(*runs.columns))


def _check_rows(current: pd.DataFrame, sweep: SweepSpec, *, manifest: str) -> None:
    """Refuse a manifest that is not the spec's before any row trains: a worker imports the
    estimator path a row names, so a rewritten row could run any code (workers check each row
    again, see :mod:`dbt_sweep.training.row_check`). Params never depend on the group, so the
    distinct configurations are few."""
    configs = (
        current.groupby(["estimator_name", "estimator", "search", "params"], dropna=False)[
            "run_key"
        ]
        .min()
        .reset_index()
    )
    check_manifest(configs, sweep, manifest=manifest)


def _runs_schema(features: DataFrame, sweep: SweepSpec) -> str:
    """The grouped-map output: training's columns, then what the driver and tracking add."""
    return (
        run_schema(sweep, _spark.column_types(features, sweep.group_by))
        + ", `mlflow_run_id` string, `data_fingerprint` string"
    )


def _train(
    features: DataFrame,
    plan: RunPlan,
    sweep: SweepSpec,
    *,
    model: str,
    versions: str,
    progress_interval: float | None,
) -> DataFrame:
    """Train every row of ``plan.to_train``: exactly one output row per row, ``ok`` or not.

    Units are spread over ``TASKS_PER_CORE x cores`` tasks, largest estimated cost first, so every
    core stays busy (Spark's adaptive execution would otherwise coalesce a small grouped-map stage
    into one task), and packed into bins, one grouped-map call each (:mod:`~dbt_sweep.spark.slots`).
    An incremental build that retrains little trains on the driver (:mod:`~dbt_sweep.spark.driver`).
    """
    manifest = plan.to_train
    spark = features.sparkSession
    features = _spark.decimals_as_double(
        features, [*sweep.feature_columns(features.columns), sweep.target]
    )
    units = unit_columns(sweep)
    slots = assign_slots(manifest, units, cores=_spark.parallelism(spark))
    n_slots = int(slots.attrs["n_slots"])

    unit_bins = spark.createDataFrame(slots[[*units, UNIT]], schema=slot_schema(manifest, units))
    group_bins = slots[[*sweep.group_by, UNIT]].drop_duplicates()
    group_bins = spark.createDataFrame(group_bins, schema=slot_schema(manifest, sweep.group_by))

    used = training_columns(sweep, features.columns)
    # A group's rows are copied once per bin that holds any of its units, never once per run.
    data = with_slots(features.select(*used), group_bins, on=sweep.group_by, how="inner").select(
        *[F.col(f"left.`{c}`") for c in used], F.col(f"right.{UNIT}")
    )
    runs = with_slots(manifest, unit_bins, on=units, how="left").select("left.*", f"right.{UNIT}")

    monitor = ProgressMonitor(
        spark,
        model=model,
        total_units=len(slots),
        total_runs=int(slots["n_runs"].sum()),
        interval=progress_interval or ProgressMonitor.interval,
    )
    node = dbt_node(model)
    tracking = start_tracking(
        sweep, model=model, unique_id=node["unique_id"], target=node["target"],
        project_dir=node["project_dir"], invocation_id=dbt_invocation_id(),
        trained_with=versions,
    )  # fmt: skip
    if tracking is not None:  # a unit that is a whole group can log the group's winner itself
        tracking = replace(tracking, whole_groups=bool((slots[WORK_UNIT_SHARD_COLUMN] == 0).all()))
        record_plan(tracking, trained=plan.n_train, carried=plan.n_carried, removed=plan.n_removed)
    trainer = _trainer(sweep, monitor.counters, tracking)
    schema = _runs_schema(features, sweep)
    if on_driver(slots, incremental=plan.carried is not None):
        get_logger().info(
            f"{model}: {plan.n_train} runs to train, few enough to train on the driver "
            "(no grouped-map stage, no Python workers to start)"
        )
        trained = train_on_driver(data, runs, trainer, schema, bin_column=UNIT)
    else:
        trained = (
            # Both sides hash-partitioned on the one grouping key, with an explicit partition
            # count: the cogroup reuses that partitioning (no further shuffle) and adaptive
            # execution leaves it alone; grouping by the group columns instead made Spark add a
            # shuffle that AQE coalesced into ONE task.
            data.repartition(n_slots, UNIT)
            .groupBy(UNIT)
            .cogroup(runs.repartition(n_slots, UNIT).groupBy(UNIT))
            .applyInPandas(trainer, schema)
        )
        monitor.start()
    if tracking is not None:
        trained = _tracked(trained, tracking, features, sweep, model=model)
    return trained


def _trainer(
    spec: SweepSpec, counters: Counters, tracking: TrackingContext | None
) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    """The grouped-map function Spark ships to its Python workers (a closure: pyspark decides
    whether to pass the grouping key by counting the function's arguments, `self` included).
    ``tracking`` is plain data; the unit logs its own child runs (``level: runs``) and models
    (see :attr:`~dbt_sweep.tracking.TrackingContext.models_on_workers`)."""
    log_runs = tracking is not None and tracking.logs_on_workers

    def train(features: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
        rows = features.drop(columns=[UNIT], errors="ignore")
        runs = runs.drop(columns=[UNIT]).reset_index(drop=True)
        fingerprints = runs["data_fingerprint"].to_numpy()
        ids = np.full(len(runs), None, dtype=object)
        names = spec.feature_columns(list(rows.columns))

        def log_unit(unit_rows: pd.DataFrame, positions: np.ndarray, unit: pd.DataFrame) -> None:
            assert tracking is not None
            unit_fingerprints = fingerprints[positions]
            unit["mlflow_run_id"] = None
            unit["data_fingerprint"] = unit_fingerprints
            example = sklearn_ready(unit_rows[names].head(_EXAMPLE_ROWS).reset_index(drop=True))
            ids[positions] = track_unit(unit, list(unit_fingerprints), example, tracking)

        result = train_units(rows, runs, spec, on_unit=log_unit if log_runs else None)
        if len(runs):
            n_units = len(runs[unit_columns(spec)].drop_duplicates())
            counters.add(units=n_units, failed=int((result["status"] == "failed").sum()))
        result["mlflow_run_id"] = ids
        result["data_fingerprint"] = fingerprints  # same rows, same order
        return result

    return train


def _tracked(
    trained: DataFrame,
    tracking: TrackingContext,
    features: DataFrame,
    spec: SweepSpec,
    *,
    model: str,
) -> DataFrame:
    """Train now, then log on the driver what needs every run; fill ``mlflow_run_id`` by level."""
    try:
        # Eager and local: training (and child-run logging) must happen exactly once; a cached
        # DataFrame could be recomputed, logging its runs twice.
        trained = trained.localCheckpoint(eager=True)
    except BaseException as exc:  # Ctrl-C and cancelled jobs too: never leave the run RUNNING
        fail_parent(tracking, status="KILLED" if _interrupted(exc) else "FAILED")
        raise
    spark = trained.sparkSession
    summary = trained.drop("model").toPandas()
    wanted = models_to_log(tracking, summary, spec)
    models = pd.DataFrame({"run_key": [], "model": []})
    examples: dict[tuple[Any, ...], pd.DataFrame] = {}
    if len(wanted):
        keys = _spark.local_frame(spark, "`run_key` string", {"run_key": wanted["run_key"]})
        models = trained.join(F.broadcast(keys), on="run_key").select("run_key", "model").toPandas()
        examples = _examples(features, wanted[spec.group_by].drop_duplicates(), spec)
    try:
        group_ids = finish_tracking(tracking, summary, models, examples, spec, model=model)
    except KeyboardInterrupt:
        fail_parent(tracking, status="KILLED")
        raise
    if tracking.level == "sweep":
        return trained.withColumn("mlflow_run_id", F.lit(tracking.parent_run_id).cast("string"))
    if tracking.level == "groups" and group_ids:
        types = _spark.column_types(trained, spec.group_by)
        ddl = ", ".join([*(f"`{c}` {t}" for c, t in types.items()), "`_group_run_id` string"])
        keys = list(group_ids)
        ids = _spark.local_frame(spark, ddl, {
            **{c: [key[i] for key in keys] for i, c in enumerate(spec.group_by)},
            "_group_run_id": list(group_ids.values()),
        })  # fmt: skip
        left, right = trained.alias("left"), F.broadcast(ids).alias("right")
        on = [F.col(f"left.`{c}`").eqNullSafe(F.col(f"right.`{c}`")) for c in spec.group_by]
        joined = left.join(right, on, "left")
        return joined.select(
            *[F.col(f"left.`{c}`") for c in trained.columns if c != "mlflow_run_id"],
            F.col("right._group_run_id").alias("mlflow_run_id"),
        ).select(*trained.columns)
    return trained


def _interrupted(exc: BaseException) -> bool:
    """Whether training stopped because the build was interrupted (Ctrl-C, or dbt cancelling the
    model's Spark jobs), not because it failed."""
    return isinstance(exc, KeyboardInterrupt) or "cancel" in str(exc).lower()


def _examples(
    features: DataFrame, groups: pd.DataFrame, spec: SweepSpec
) -> dict[tuple[Any, ...], pd.DataFrame]:
    """A few feature rows of each of ``groups``: logged models' input example and signature."""
    names = spec.feature_columns(features.columns)
    spark = features.sparkSession
    wanted = spark.createDataFrame(groups, schema=_spark_ddl(features, spec.group_by))
    order = [F.col(f"`{c}`") for c in ([spec.key] if spec.key else names[:1])]
    window = Window.partitionBy(*[F.col(f"`{c}`") for c in spec.group_by]).orderBy(*order)
    rows = (
        features.join(F.broadcast(wanted), on=spec.group_by, how="inner")
        .withColumn("_sweep_row", F.row_number().over(window))
        .where(F.col("_sweep_row") <= _EXAMPLE_ROWS)
        .toPandas()
    )
    out: dict[tuple[Any, ...], pd.DataFrame] = {}
    for key, frame in rows.groupby(spec.group_by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out[key] = sklearn_ready(frame[names].reset_index(drop=True))
    return out


def _spark_ddl(df: DataFrame, columns: list[str]) -> str:
    return ", ".join(f"`{c}` {t}" for c, t in _spark.column_types(df, columns).items())
