"""The Spark side of ``sweep_predictions``: scoring rows cogrouped with each group's winner."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep.scoring import prediction_columns, score_unit
from dbt_sweep.scoring.predict import ScoringSpec
from dbt_sweep.spark import columns as _spark
from dbt_sweep.spec import SweepSpec

__all__ = ["score_rows"]


def score_rows(
    rows: DataFrame,
    best: DataFrame,
    sweep: SweepSpec,
    config: ScoringSpec,
    *,
    existing: DataFrame | None = None,
) -> DataFrame:
    """Score ``rows`` by their group's winner in ``best`` (validated spec and scoring config; see
    :func:`dbt_sweep.models.sweep_predictions`)."""
    if existing is not None and config.partition_by:
        latest = existing.agg(F.max(config.partition_by)).first()[0]
        if latest is not None:
            rows = rows.where(F.col(config.partition_by) >= F.lit(latest))

    rows = _spark.decimals_as_double(rows, sweep.feature_columns(rows.columns))
    key_types = _spark.column_types(rows, [sweep.key, *sweep.group_by])
    partition_type = (
        _spark.column_types(rows, [config.partition_by])[config.partition_by]
        if config.partition_by
        else None
    )
    columns = prediction_columns(sweep, config, key_types=key_types, partition_type=partition_type)
    names = [name for name, _ in columns]

    def score(group_rows: pd.DataFrame, group_best: pd.DataFrame) -> pd.DataFrame:
        return score_unit(group_rows, group_best, sweep, config, columns=names)

    winners = best.select(*sweep.group_by, "run_key", "estimator_name", "model")
    # Explicit partitioning: adaptive execution would coalesce this small stage into one task.
    n = _spark.TASKS_PER_CORE * _spark.parallelism(rows.sparkSession)
    return (
        rows.repartition(n, *sweep.group_by)
        .groupBy(*sweep.group_by)
        .cogroup(winners.repartition(n, *sweep.group_by).groupBy(*sweep.group_by))
        .applyInPandas(score, ", ".join(f"`{name}` {kind}" for name, kind in columns))
    )
