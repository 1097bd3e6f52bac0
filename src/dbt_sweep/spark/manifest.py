"""The Spark side of ``sweep_manifest``: per-group row counts and data fingerprints, then the manifest
rows of :func:`dbt_sweep.manifest.build_manifest` as a Spark DataFrame."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
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
    if sweep.key:
        _check_keys(features, sweep, stats, model=model)
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
    orders a group's rows canonically before splitting (dbt_sweep.training.prepare.canonical_order)."""
    wanted = [*spec.group_by, *spec.feature_columns(columns), spec.target]
    for column in (spec.key, spec.time_column):
        if column:
            wanted.append(column)
    split_column = getattr(spec.split, "column", None)
    if split_column:
        wanted.append(split_column)
    return list(dict.fromkeys(wanted))


def _group_stats(features: DataFrame, spec: SweepSpec) -> DataFrame:
    """Rows and an order-independent fingerprint of the training columns, per group; with a key,
    also its non-null and distinct counts (checked by :func:`_check_keys`)."""
    used = training_columns(spec, features.columns)
    keys = []
    if spec.key:
        key = F.col(f"`{spec.key}`")
        keys = [F.count(key).alias("_n_keys"), F.countDistinct(key).alias("_n_distinct_keys")]
    return features.groupBy(*spec.group_by).agg(
        F.count(F.lit(1)).alias("n_rows"),
        F.sum(F.xxhash64(*used).cast("decimal(38,0)")).cast("string").alias("hash_sum"),
        *keys,
    )


def _check_keys(features: DataFrame, spec: SweepSpec, stats: pd.DataFrame, *, model: str) -> None:
    """Fail on null or repeated keys within a group.

    A group's rows are put in key order before they are split, so two rows with one key (or none)
    are ordered by however Spark delivered them: the split, the metrics and the winner would change
    between builds of the same data under the same ``run_key``.
    """
    n_keys = stats.pop("_n_keys")
    n_distinct = stats.pop("_n_distinct_keys")
    nulls = int((stats["n_rows"] - n_keys).sum())
    repeats = int((n_keys - n_distinct).sum())
    if not nulls and not repeats:
        return
    key = spec.key
    assert key is not None
    where = f"The 'key' column '{key}' of the sweep in model '{model}' must identify each row of its group"
    if nulls:
        example = features.where(F.col(f"`{key}`").isNull()).select(*spec.group_by).first()
        found = (
            f"{_rows(nulls)} of '{spec.source}' {'has' if nulls == 1 else 'have'} a null '{key}' "
            f"(e.g. in group {_group(example)})"
        )
    else:
        example = (
            features.groupBy(*spec.group_by, key)
            .count()
            .where(F.col("count") > 1)
            .orderBy(*spec.group_by, key)
            .first()
        )
        found = (
            f"{_rows(repeats)} of '{spec.source}' {'repeats' if repeats == 1 else 'repeat'} a key of "
            f"their group (e.g. {key}="
            f"{example[key]!r} appears {example['count']} times in group {_group(example, spec)})"
        )
    raise SweepDataError(
        f"{where}: {found}. Rows that share a key are split in whatever order Spark delivers them, "
        "so metrics would change between builds of the same data. Make the key unique and "
        "non-null within each group in the feature model, or drop 'key' from the spec (rows are "
        "then ordered by all their columns)."
    )


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _group(row: Any, spec: SweepSpec | None = None) -> str:
    names = spec.group_by if spec else list(row.asDict())
    return "{" + ", ".join(f"{name}={row[name]!r}" for name in names) + "}"
