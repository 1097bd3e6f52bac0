"""Scoring: load each group's winner from its skops bytes (trusted types only) and predict its rows.

pandas in, pandas out, no Spark: :func:`score_unit` is what the workers run per group.
"""

from __future__ import annotations

from dbt_sweep.scoring.predict import parse_scoring, prediction_columns, score_unit

__all__ = ["parse_scoring", "prediction_columns", "score_unit"]
