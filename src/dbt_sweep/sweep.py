"""Entry points of the dbt Python models: one call each, so model files stay thin.

``sweep_manifest`` expands the spec over the groups of the feature table; ``sweep_runs`` trains every
manifest row with a pandas grouped-map function (``cogroup(...).applyInPandas``), one output row per
manifest row. Both validate the spec before any Spark job runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep import _spark
from dbt_sweep.exceptions import SweepDataError
from dbt_sweep.manifest import build_manifest, unit_columns
from dbt_sweep.progress import Counters, ProgressMonitor
from dbt_sweep.spec import SweepSpec, check_columns, parse_spec
from dbt_sweep.train import run_schema, train_unit

__all__ = ["sweep_manifest", "sweep_runs"]

_SLOT = "_sweep_slot"  # the training task a work unit is assigned to
# Tasks per core in the training stage: enough to balance uneven units, few enough that per-task
# overhead stays small.
_TASKS_PER_CORE = 4


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
    """
    sweep = _validated(features, spec, model=model)
    spark = features.sparkSession
    units = unit_columns(sweep)
    slots = _assign_slots(manifest, units, cores=_spark.parallelism(spark))
    n_slots = int(slots.attrs["n_slots"])

    def slot_map() -> DataFrame:  # one per join: Spark rejects one DataFrame on both cogroup sides
        return spark.createDataFrame(slots[[*units, _SLOT]], schema=_slot_schema(manifest, units))

    used = _training_columns(sweep, features.columns)
    # A group's rows are copied once per shard of the group, never once per run.
    data = _with_slots(features.select(*used), slot_map(), on=sweep.group_by, how="inner").select(
        *[F.col(f"left.`{c}`") for c in used], F.col("right.shard"), F.col(f"right.{_SLOT}")
    )
    runs = _with_slots(manifest, slot_map(), on=units, how="left").select("left.*", f"right.{_SLOT}")

    monitor = ProgressMonitor(
        spark,
        model=model,
        total_units=len(slots),
        total_runs=int(slots["n_runs"].sum()),
        interval=progress_interval or ProgressMonitor.interval,
    )
    trainer = _trainer(sweep, monitor.counters)
    keys = [_SLOT, *units]
    trained = (
        data.repartitionByRange(n_slots, _SLOT)
        .groupBy(*keys)
        .cogroup(runs.repartitionByRange(n_slots, _SLOT).groupBy(*keys))
        .applyInPandas(trainer, run_schema(sweep, _spark.column_types(features, sweep.group_by)))
    )
    monitor.start()
    return trained.select(
        "*",
        # Where the marts read how to rank runs (best_models) without knowing the spec.
        F.lit(sweep.primary_metric).alias("primary_metric_name"),
        F.lit(sweep.primary_direction).alias("primary_direction"),
        F.lit(None).cast("string").alias("mlflow_run_id"),
        F.lit(_spark.dbt_invocation_id()).cast("string").alias("dbt_invocation_id"),
    )


def _trainer(spec: SweepSpec, counters: Counters) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    """The grouped-map function Spark ships to its Python workers (a closure: pyspark decides
    whether to pass the grouping key by counting the function's arguments, `self` included)."""

    def train(features: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
        result = train_unit(
            features.drop(columns=[_SLOT], errors="ignore"), runs.drop(columns=[_SLOT]), spec
        )
        if len(runs):
            counters.add(units=1, failed=int((result["status"] == "failed").sum()))
        return result

    return train


def _validated(features: DataFrame, spec: Mapping[str, Any] | None, *, model: str) -> SweepSpec:
    sweep = parse_spec(spec, model=model)
    check_columns(sweep, _spark.column_kinds(features), model=model)
    return sweep


def _training_columns(spec: SweepSpec, columns: list[str]) -> list[str]:
    """The columns training reads: groups, features, target, time (never anything else)."""
    wanted = [*spec.group_by, *spec.feature_columns(columns), spec.target]
    if spec.time_column:
        wanted.append(spec.time_column)
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
    """Work units with their task slot: largest estimated cost first, dealt round-robin."""
    per_unit = (
        manifest.groupBy(*units)
        .agg(F.sum("est_cost").alias("cost"), F.count(F.lit(1)).alias("n_runs"))
        .toPandas()
        .sort_values(["cost", *units], ascending=[False, *[True] * len(units)], kind="stable")
        .reset_index(drop=True)
    )
    n_slots = max(1, min(len(per_unit), cores * _TASKS_PER_CORE))
    per_unit[_SLOT] = (per_unit.index % n_slots).astype("int32")
    per_unit.attrs["n_slots"] = n_slots
    return per_unit


def _slot_schema(manifest: DataFrame, units: list[str]) -> str:
    types = _spark.column_types(manifest, units)
    return ", ".join([*(f"`{c}` {t}" for c, t in types.items()), f"`{_SLOT}` int"])


def _with_slots(df: DataFrame, slot_map: DataFrame, *, on: list[str], how: str) -> DataFrame:
    """Join the (small, broadcast) unit -> slot map; null group keys match each other."""
    left, right = df.alias("left"), F.broadcast(slot_map).alias("right")
    condition = [F.col(f"left.`{c}`").eqNullSafe(F.col(f"right.`{c}`")) for c in on]
    return left.join(right, condition, how)
