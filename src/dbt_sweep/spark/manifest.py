"""The Spark side of ``sweep_manifest``: per-group row counts and data fingerprints, then the manifest
rows of :func:`dbt_sweep.manifest.build_manifest` as a Spark DataFrame."""

from __future__ import annotations

import hashlib

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep.exceptions import SweepDataError
from dbt_sweep.manifest import build_manifest
from dbt_sweep.spark import columns as _spark
from dbt_sweep.spec import SweepSpec

__all__ = ["manifest_frame", "training_columns"]

_MANIFEST_DDL = (
    "`estimator_name` string, `estimator` string, `params` string, `search` string, `shard` int, "
    "`n_rows` bigint, `data_fingerprint` string, `est_cost` double, `spec_hash` string"
)


def manifest_frame(features: DataFrame, sweep: SweepSpec, *, model: str) -> DataFrame:
    """The manifest of a validated spec over ``features`` (see :func:`dbt_sweep.models.sweep_manifest`)."""
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


def training_columns(spec: SweepSpec, columns: list[str]) -> list[str]:
    """The columns training reads: groups, features, target, key and time (nothing else). The key
    orders a group's rows canonically before splitting (dbt_sweep.training.unit.canonical_order)."""
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
    used = training_columns(spec, features.columns)
    return features.groupBy(*spec.group_by).agg(
        F.count(F.lit(1)).alias("n_rows"),
        F.sum(F.xxhash64(*used).cast("decimal(38,0)")).cast("string").alias("hash_sum"),
    )
