"""Entry points of the dbt Python models: one call each, so model files stay thin.

``sweep_manifest`` expands the spec over the groups of the feature table; ``sweep_runs`` trains every
manifest row with a pandas grouped-map function (``cogroup(...).applyInPandas``), one output row per
manifest row. Both validate the spec before any Spark job runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dbt_sweep import _spark
from dbt_sweep._tracking_runs import TrackingContext, track_unit
from dbt_sweep.exceptions import SweepDataError
from dbt_sweep.manifest import WORK_UNIT_SHARD_COLUMN, build_manifest, unit_columns
from dbt_sweep.progress import Counters, ProgressMonitor
from dbt_sweep.spec import SweepSpec, check_columns, parse_spec
from dbt_sweep.tracking import fail_parent, finish_tracking, models_to_log, start_tracking
from dbt_sweep.train import run_schema, sklearn_ready, train_unit

__all__ = ["sweep_manifest", "sweep_runs"]

# One long per work unit, chosen so that Spark's hash partitioning sends the unit to the task slot it
# was dealt (see _assign_slots).
_UNIT = "_sweep_unit"
_EXAMPLE_ROWS = 5  # input example of a logged MLflow model


def sweep_manifest(features: DataFrame, spec: Mapping[str, Any] | None, *, model: str) -> DataFrame:
    """One row per training run: group x estimator x parameter combination.

    Parameters
    ----------
    features : pyspark.sql.DataFrame
        The feature table the spec's ``source`` names.
    spec : mapping or None
        The model's ``sweep`` config, as ``dbt.config.get("sweep")`` returns it.
    model : str
        The dbt model's name, for error messages.

    Returns
    -------
    pyspark.sql.DataFrame
        The manifest (see :func:`dbt_sweep.manifest.build_manifest`); no copies of the data.

    Raises
    ------
    SweepSpecError
        The spec is invalid or does not fit the table (before any Spark job runs).
    SweepDataError
        The feature table has no rows.
    """
    sweep = _validated(features, spec, model=model)
    stats = _group_stats(features, sweep).toPandas()
    if stats.empty:
        raise SweepDataError(
            f"The source '{sweep.source}' of the sweep in model '{model}' has no rows, so there is "
            "nothing to train. Check the feature model and its filters."
        )
    stats["data_fingerprint"] = [
        hashlib.sha256(f"{n}:{h}".encode()).hexdigest()[:16]
        for n, h in zip(stats["n_rows"], stats.pop("hash_sum"), strict=True)
    ]
    manifest = build_manifest(
        sweep,
        stats,
        parallelism=_spark.parallelism(features.sparkSession),
        n_features=len(sweep.feature_columns(features.columns)),
    )
    group_types = _spark.column_types(features, sweep.group_by)
    schema = ", ".join(
        ["`run_key` string", *(f"`{c}` {t}" for c, t in group_types.items()), _MANIFEST_DDL]
    )
    return features.sparkSession.createDataFrame(manifest, schema=schema)


_MANIFEST_DDL = (
    "`estimator_name` string, `estimator` string, `params` string, `search` string, `shard` int, "
    "`n_rows` bigint, `data_fingerprint` string, `est_cost` double, `spec_hash` string"
)


def sweep_runs(
    features: DataFrame,
    manifest: DataFrame,
    spec: Mapping[str, Any] | None,
    *,
    model: str,
    progress_interval: float | None = None,
) -> DataFrame:
    """Train every manifest row; exactly one output row per manifest row, ``ok`` or not.

    Features and manifest are cogrouped by work unit (group, or group and shard) and each unit is
    trained by :func:`dbt_sweep.train.train_unit` in a Spark Python worker. Units are spread over
    ``4 x cores`` tasks, largest estimated cost first, so every core stays busy (Spark's adaptive
    execution would otherwise coalesce a small grouped-map stage into one task).

    Parameters
    ----------
    features : pyspark.sql.DataFrame
        The feature table the spec's ``source`` names.
    manifest : pyspark.sql.DataFrame
        The ``sweep_manifest`` model built from the same spec.
    spec : mapping or None
        The model's ``sweep`` config, as ``dbt.config.get("sweep")`` returns it.
    model : str
        The dbt model's name, for error messages and progress lines.
    progress_interval : float or None, default=None
        Seconds between progress lines in dbt's log (default 10).

    Returns
    -------
    pyspark.sql.DataFrame
        The runs: ``train_unit``'s columns, then ``primary_metric_name``, ``primary_direction``
        (``minimize`` or ``maximize``), ``mlflow_run_id`` and ``dbt_invocation_id``.

    Raises
    ------
    TrackingError
        MLflow tracking failed and ``sweep.tracking.on_error`` is ``fail`` (see
        :mod:`dbt_sweep.tracking`). With tracking enabled, training runs here (eagerly, into a local
        checkpoint) rather than when dbt writes the table: the parent run's figure, the group runs
        and the winner models need every result.
    """
    sweep = _validated(features, spec, model=model)
    spark = features.sparkSession
    units = unit_columns(sweep)
    slots = _assign_slots(manifest, units, cores=_spark.parallelism(spark))
    n_slots = int(slots.attrs["n_slots"])

    def slot_map() -> DataFrame:  # one per join: Spark rejects one DataFrame on both cogroup sides
        return spark.createDataFrame(slots[[*units, _UNIT]], schema=_slot_schema(manifest, units))

    used = _training_columns(sweep, features.columns)
    # A group's rows are copied once per shard of the group, never once per run.
    data = _with_slots(features.select(*used), slot_map(), on=sweep.group_by, how="inner").select(
        *[F.col(f"left.`{c}`") for c in used], F.col("right.shard"), F.col(f"right.{_UNIT}")
    )
    runs = _with_slots(manifest, slot_map(), on=units, how="left").select(
        "left.*", f"right.{_UNIT}"
    )

    monitor = ProgressMonitor(
        spark,
        model=model,
        total_units=len(slots),
        total_runs=int(slots["n_runs"].sum()),
        interval=progress_interval or ProgressMonitor.interval,
    )
    node = _spark.dbt_node(model)
    tracking = start_tracking(
        sweep, model=model, unique_id=node["unique_id"], target=node["target"],
        project_dir=node["project_dir"], invocation_id=_spark.dbt_invocation_id(),
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
        data.repartition(n_slots, _UNIT)
        .groupBy(_UNIT)
        .cogroup(runs.repartition(n_slots, _UNIT).groupBy(_UNIT))
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
        F.lit(_spark.dbt_invocation_id()).cast("string").alias("dbt_invocation_id"),
    )


def _trainer(
    spec: SweepSpec, counters: Counters, tracking: TrackingContext | None
) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    """The grouped-map function Spark ships to its Python workers (a closure: pyspark decides
    whether to pass the grouping key by counting the function's arguments, `self` included).
    ``tracking`` is plain data; the unit logs its own child runs (``level: runs``) and models
    (see :attr:`~dbt_sweep._tracking_runs.TrackingContext.models_on_workers`)."""
    log_runs = tracking is not None and tracking.logs_on_workers

    def train(features: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
        rows = features.drop(columns=[_UNIT], errors="ignore")
        result = train_unit(rows, runs.drop(columns=[_UNIT]), spec)
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


def _validated(features: DataFrame, spec: Mapping[str, Any] | None, *, model: str) -> SweepSpec:
    sweep = parse_spec(spec, model=model)
    check_columns(sweep, _spark.column_kinds(features), model=model)
    return sweep


def _training_columns(spec: SweepSpec, columns: list[str]) -> list[str]:
    """The columns training reads: groups, features, target, key and time (nothing else). The key
    orders a group's rows canonically before splitting (dbt_sweep.train.canonical_order)."""
    wanted = [*spec.group_by, *spec.feature_columns(columns), spec.target]
    for column in (spec.key, spec.time_column):
        if column:
            wanted.append(column)
    split_column = getattr(spec.split, "column", None)
    if split_column:
        wanted.append(split_column)
    return list(dict.fromkeys(wanted))


def _group_stats(features: DataFrame, spec: SweepSpec) -> DataFrame:
    """Rows and an order-independent fingerprint of the training columns, per group."""
    used = _training_columns(spec, features.columns)
    return features.groupBy(*spec.group_by).agg(
        F.count(F.lit(1)).alias("n_rows"),
        F.sum(F.xxhash64(*used).cast("decimal(38,0)")).cast("string").alias("hash_sum"),
    )


def _assign_slots(manifest: DataFrame, units: list[str], *, cores: int) -> pd.DataFrame:
    """Work units dealt to task slots, largest estimated cost first, round-robin; each gets a key
    (``_UNIT``) that Spark's hash partitioning maps to exactly that slot."""
    per_unit = (
        manifest.groupBy(*units)
        .agg(F.sum("est_cost").alias("cost"), F.count(F.lit(1)).alias("n_runs"))
        .toPandas()
        .sort_values(["cost", *units], ascending=[False, *[True] * len(units)], kind="stable")
        .reset_index(drop=True)
    )
    n_slots = max(1, min(len(per_unit), cores * _spark.TASKS_PER_CORE))
    slot = per_unit.index.to_numpy() % n_slots
    per_unit[_UNIT] = _keys_in_partitions(manifest.sparkSession, slot, n_slots)
    per_unit.attrs["n_slots"] = n_slots
    return per_unit


def _keys_in_partitions(spark: Any, partitions: Any, n: int) -> list[int]:
    """Distinct longs ``k`` with ``pmod(hash(k), n) == partitions[i]``, one per unit.

    ``repartition(n, col)`` places a row in partition ``pmod(murmur3(col), n)``; asking Spark for
    the hashes of ``0..m`` (one tiny job) makes the placement exact, where hashing the group keys
    themselves would put several units in one task and leave others empty.
    """
    wanted = pd.Series(partitions).value_counts()
    m = 4 * n * (int(wanted.max()) + 1)
    while True:
        hashed = spark.range(m).select("id", F.pmod(F.hash("id"), F.lit(n)).alias("p")).toPandas()
        pools = {p: list(ids) for p, ids in hashed.groupby("p")["id"]}
        if all(len(pools.get(p, [])) >= count for p, count in wanted.items()):
            return [int(pools[p].pop(0)) for p in partitions]
        m *= 2


def _slot_schema(manifest: DataFrame, units: list[str]) -> str:
    types = _spark.column_types(manifest, units)
    return ", ".join([*(f"`{c}` {t}" for c, t in types.items()), f"`{_UNIT}` bigint"])


def _with_slots(df: DataFrame, slot_map: DataFrame, *, on: list[str], how: str) -> DataFrame:
    """Join the (small, broadcast) unit -> slot map; null group keys match each other."""
    left, right = df.alias("left"), F.broadcast(slot_map).alias("right")
    condition = [F.col(f"left.`{c}`").eqNullSafe(F.col(f"right.`{c}`")) for c in on]
    return left.join(right, condition, how)
