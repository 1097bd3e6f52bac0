"""The Spark side of ``sweep_runs``: features and manifest cogrouped by work unit, each unit trained by
:func:`dbt_sweep.training.train_unit` in a Spark Python worker, tracking opened and closed around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dbt_sweep.manifest import WORK_UNIT_SHARD_COLUMN, unit_columns
from dbt_sweep.plugin.node import dbt_invocation_id, dbt_node
from dbt_sweep.spark import columns as _spark
from dbt_sweep.spark.manifest import training_columns
from dbt_sweep.spark.progress import Counters, ProgressMonitor
from dbt_sweep.spark.slots import UNIT, assign_slots, slot_schema, with_slots
from dbt_sweep.spec import SweepSpec
from dbt_sweep.tracking import (
    TrackingContext,
    fail_parent,
    finish_tracking,
    models_to_log,
    start_tracking,
    track_unit,
)
from dbt_sweep.training import run_schema, sklearn_ready, train_unit

__all__ = ["train_runs"]

_EXAMPLE_ROWS = 5  # input example of a logged MLflow model


def train_runs(
    features: DataFrame,
    manifest: DataFrame,
    sweep: SweepSpec,
    *,
    model: str,
    progress_interval: float | None = None,
) -> DataFrame:
    """Train every manifest row of a validated spec (see :func:`dbt_sweep.models.sweep_runs`).

    Units are spread over ``TASKS_PER_CORE x cores`` tasks, largest estimated cost first, so every
    core stays busy (Spark's adaptive execution would otherwise coalesce a small grouped-map stage
    into one task).
    """
    spark = features.sparkSession
    units = unit_columns(sweep)
    slots = assign_slots(manifest, units, cores=_spark.parallelism(spark))
    n_slots = int(slots.attrs["n_slots"])

    def slot_map() -> DataFrame:  # one per join: Spark rejects one DataFrame on both cogroup sides
        return spark.createDataFrame(slots[[*units, UNIT]], schema=slot_schema(manifest, units))

    used = training_columns(sweep, features.columns)
    # A group's rows are copied once per shard of the group, never once per run.
    data = with_slots(features.select(*used), slot_map(), on=sweep.group_by, how="inner").select(
        *[F.col(f"left.`{c}`") for c in used], F.col("right.shard"), F.col(f"right.{UNIT}")
    )
    runs = with_slots(manifest, slot_map(), on=units, how="left").select("left.*", f"right.{UNIT}")

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
    )  # fmt: skip
    if tracking is not None:  # a unit that is a whole group can log the group's winner itself
        tracking = replace(tracking, whole_groups=bool((slots[WORK_UNIT_SHARD_COLUMN] == 0).all()))
    trainer = _trainer(sweep, monitor.counters, tracking)
    schema = (
        run_schema(sweep, _spark.column_types(features, sweep.group_by))
        + ", `mlflow_run_id` string"
    )
    trained = (
        # Both sides hash-partitioned on the one grouping key, with an explicit partition count:
        # the cogroup reuses that partitioning (no further shuffle) and adaptive execution leaves
        # it alone; grouping by the group columns instead made Spark add a shuffle that AQE
        # coalesced into ONE task.
        data.repartition(n_slots, UNIT)
        .groupBy(UNIT)
        .cogroup(runs.repartition(n_slots, UNIT).groupBy(UNIT))
        .applyInPandas(trainer, schema)
    )
    monitor.start()
    if tracking is not None:
        trained = _tracked(trained, tracking, features, manifest, sweep, model=model)
    return trained.select(
        *[F.col(f"`{c}`") for c in trained.columns if c != "mlflow_run_id"],
        # Where the marts read how to rank runs (best_models) without knowing the spec.
        F.lit(sweep.primary_metric).alias("primary_metric_name"),
        F.lit(sweep.primary_direction).alias("primary_direction"),
        F.col("mlflow_run_id"),
        F.lit(dbt_invocation_id()).cast("string").alias("dbt_invocation_id"),
    )


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
        result = train_unit(rows, runs.drop(columns=[UNIT]), spec)
        if len(runs):
            counters.add(units=1, failed=int((result["status"] == "failed").sum()))
        result["mlflow_run_id"] = None
        if log_runs and len(runs):
            assert tracking is not None
            names = spec.feature_columns([c for c in rows.columns if c != WORK_UNIT_SHARD_COLUMN])
            example = sklearn_ready(rows[names].head(_EXAMPLE_ROWS).reset_index(drop=True))
            ids = track_unit(result, runs["data_fingerprint"].tolist(), example, tracking)
            result["mlflow_run_id"] = pd.Series(ids, index=result.index, dtype=object)
        return result

    return train


def _tracked(
    trained: DataFrame,
    tracking: TrackingContext,
    features: DataFrame,
    manifest: DataFrame,
    spec: SweepSpec,
    *,
    model: str,
) -> DataFrame:
    """Train now, then log on the driver what needs every run; fill ``mlflow_run_id`` by level."""
    try:
        # Eager and local: training (and child-run logging) must happen exactly once; a cached
        # DataFrame could be recomputed, logging its runs twice.
        trained = trained.localCheckpoint(eager=True)
    except Exception:
        fail_parent(tracking)
        raise
    spark = trained.sparkSession
    summary = (
        trained.drop("model")
        .join(manifest.select("run_key", "data_fingerprint"), on="run_key", how="left")
        .toPandas()
    )
    wanted = models_to_log(tracking, summary, spec)
    models = pd.DataFrame({"run_key": [], "model": []})
    examples: dict[tuple[Any, ...], pd.DataFrame] = {}
    if len(wanted):
        keys = spark.createDataFrame(wanted[["run_key"]], schema="`run_key` string")
        models = trained.join(F.broadcast(keys), on="run_key").select("run_key", "model").toPandas()
        examples = _examples(features, wanted[spec.group_by].drop_duplicates(), spec)
    group_ids = finish_tracking(tracking, summary, models, examples, spec, model=model)
    if tracking.level == "sweep":
        return trained.withColumn("mlflow_run_id", F.lit(tracking.parent_run_id).cast("string"))
    if tracking.level == "groups" and group_ids:
        types = _spark.column_types(trained, spec.group_by)
        rows = [(*key, run_id) for key, run_id in group_ids.items()]
        ddl = ", ".join([*(f"`{c}` {t}" for c, t in types.items()), "`_group_run_id` string"])
        ids = spark.createDataFrame(rows, schema=ddl)
        left, right = trained.alias("left"), F.broadcast(ids).alias("right")
        on = [F.col(f"left.`{c}`").eqNullSafe(F.col(f"right.`{c}`")) for c in spec.group_by]
        joined = left.join(right, on, "left")
        return joined.select(
            *[F.col(f"left.`{c}`") for c in trained.columns if c != "mlflow_run_id"],
            F.col("right._group_run_id").alias("mlflow_run_id"),
        ).select(*trained.columns)
    return trained


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
