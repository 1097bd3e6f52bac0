"""Entry point of the predictions dbt Python model: scoring rows cogrouped with each group's winner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep import _spark
from dbt_sweep.exceptions import SpecProblem, SweepSpecError
from dbt_sweep.predict import parse_scoring, prediction_columns, score_unit
from dbt_sweep.spec import parse_spec

__all__ = ["sweep_predictions"]


def sweep_predictions(
    rows: DataFrame,
    best: DataFrame,
    spec: Mapping[str, Any] | None,
    scoring: Mapping[str, Any] | None,
    *,
    model: str,
    existing: DataFrame | None = None,
) -> DataFrame:
    """One prediction per scoring row, by the winning model of the row's group.

    Parameters
    ----------
    rows : pyspark.sql.DataFrame
        The rows to score (the ``scoring.source`` model): key, group and feature columns.
    best : pyspark.sql.DataFrame
        The sweep's ``best_models``: one row per group with the winner's skops bytes.
    spec : mapping or None
        The sweep spec (``dbt.config.get("sweep")``): task, key and group columns.
    scoring : mapping or None
        The model's ``scoring`` config: ``source``, ``partition_by``, ``probabilities``.
    model : str
        The dbt model's name, for error messages.
    existing : pyspark.sql.DataFrame or None, default=None
        The model's current table on an incremental run. With ``scoring.partition_by``, only rows
        from the latest scored partition on are scored again (insert_overwrite then replaces just
        those partitions), so a daily run adds a day without rescoring history.

    Returns
    -------
    pyspark.sql.DataFrame
        See :func:`dbt_sweep.predict.prediction_columns`; groups without a winner give rows with a
        null prediction and a reason, never missing rows.
    """
    sweep = parse_spec(spec, model=model)
    config = parse_scoring(scoring, model=model)
    if not sweep.key:
        raise SweepSpecError(
            [
                SpecProblem(
                    "sweep.key",
                    "is required by a predictions model: it names the row id "
                    "each prediction carries. Got None instead.",
                )
            ],
            model=model,
        )
    required = [sweep.key, *sweep.group_by, *([config.partition_by] if config.partition_by else [])]
    missing = [c for c in required if c not in rows.columns]
    if missing:
        raise SweepSpecError(
            [
                SpecProblem(
                    "scoring.source",
                    f"names model '{config.source}', which lacks the columns "
                    f"{missing}. Available columns are: {rows.columns}.",
                )
            ],
            model=model,
        )
    if existing is not None and config.partition_by:
        latest = existing.agg(F.max(config.partition_by)).first()[0]
        if latest is not None:
            rows = rows.where(F.col(config.partition_by) >= F.lit(latest))

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
