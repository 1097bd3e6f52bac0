"""Batch prediction per group with each group's winning model: pandas in, pandas out, no Spark.

The fitted Pipeline stored in ``best_models`` carries its own preprocessing (imputation, encoding,
scaling), so scoring applies exactly the transform the model was trained with. Model bytes are
loaded with skops, trusting only the allowed estimators' classes and the types their pipelines
hold (:func:`dbt_sweep.training.serialize.load_model`): a table's bytes are never unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dbt_sweep.spec import SweepSpec
from dbt_sweep.training.serialize import load_model

__all__ = ["ScoringSpec", "parse_scoring", "prediction_columns", "score_unit"]


class ScoringSpec(BaseModel):
    """The ``scoring`` config of a predictions model."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: str = Field(min_length=1, description="the scoring feature model")
    partition_by: str | None = Field(
        None, description="a column of the scoring rows that partitions the predictions table"
    )
    probabilities: bool = Field(False, description="classifiers: also output class probabilities")
    on_missing_model: Literal["null"] = "null"


class ScoringConfigError(ValueError):
    """The ``scoring`` config of a predictions model is invalid."""


def parse_scoring(raw: Mapping[str, Any] | None, *, model: str) -> ScoringSpec:
    """Validate a predictions model's ``scoring`` config; errors name the model and the key."""
    if raw is None:
        raise ScoringConfigError(
            f"The 'scoring' config of model '{model}' is missing: declare it in the model's YAML "
            "config, e.g. scoring: {source: feat_rows_to_score}."
        )
    try:
        return ScoringSpec.model_validate(dict(raw))
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            key = ".".join(["scoring", *map(str, error["loc"])])
            lines.append(
                f"The '{key}' key of the scoring config in model '{model}' {error['msg'].lower()}. "
                f"Got {error['input']!r} instead."
            )
        raise ScoringConfigError("\n".join(lines)) from None


def prediction_columns(
    spec: SweepSpec,
    scoring: ScoringSpec,
    *,
    key_types: Mapping[str, str],
    partition_type: str | None = None,
) -> list[tuple[str, str]]:
    """``score_unit``'s output columns as ``(name, Spark SQL type)``.

    ``key_types`` gives the key column then the group columns with their types, in that order.
    Classifiers predict a label as a string (labels may be ints or strings); probabilities are a
    map from label to probability.
    """
    columns = list(key_types.items())
    if scoring.partition_by and partition_type:
        columns.append((scoring.partition_by, partition_type))
    columns.append(("prediction", "double" if spec.task == "regression" else "string"))
    if spec.task == "classification" and scoring.probabilities:
        columns.append(("probabilities", "map<string,double>"))
    columns += [
        ("status", "string"),
        ("reason", "string"),
        ("run_key", "string"),
        ("estimator_name", "string"),
        ("scored_at", "timestamp"),
    ]
    return columns


def score_unit(
    rows: pd.DataFrame,
    best: pd.DataFrame,
    spec: SweepSpec,
    scoring: ScoringSpec,
    *,
    columns: Sequence[str],
) -> pd.DataFrame:
    """Score one group's rows with the group's winning model; one output row per input row.

    Parameters
    ----------
    rows : DataFrame
        The group's rows to score (key, group and feature columns; others are ignored).
    best : DataFrame
        The group's row of ``best_models`` (``run_key``, ``estimator_name``, ``model``), or no row
        when the group has no winner.
    spec : SweepSpec
        The sweep the model was trained by (task, key, group columns, allowed modules).
    scoring : ScoringSpec
        The predictions model's scoring config.
    columns : sequence of str
        The output column names (:func:`prediction_columns`).

    Returns
    -------
    DataFrame
        ``status`` is ``ok`` with a ``prediction``, or ``failed`` with a null prediction and a
        ``reason``: no winner for the group, a model that fails to load, missing feature columns,
        nulls the model cannot handle, or a failing ``predict``.

    Examples
    --------
    >>> from dbt_sweep.training.serialize import dump_model
    >>> from dbt_sweep.spec import parse_spec
    >>> from sklearn.linear_model import LinearRegression
    >>> spec = parse_spec({"source": "feat", "group_by": "g", "key": "id", "target": "y",
    ...     "task": "regression", "estimators": [{"estimator": "sklearn.linear_model.LinearRegression"}]},
    ...     model="sweep_runs")
    >>> fitted = LinearRegression().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), [1.0, 3.0, 5.0])
    >>> best = pd.DataFrame({"run_key": ["k1"], "estimator_name": ["linearregression"],
    ...     "model": [dump_model(fitted)]})
    >>> rows = pd.DataFrame({"id": [7, 8], "g": ["a", "a"], "x": [3.0, None]})
    >>> cols = [n for n, _ in prediction_columns(spec, ScoringSpec(source="rows"),
    ...     key_types={"id": "bigint", "g": "string"})]
    >>> score_unit(rows, best, spec, ScoringSpec(source="rows"), columns=cols)[
    ...     ["id", "prediction", "status", "reason"]]
       id  prediction  status                                             reason
    0   7         7.0      ok                                               None
    1   8         NaN  failed  feature 'x' is null and the model has no imputer
    """
    out = pd.DataFrame(index=range(len(rows)))
    for name in columns:
        if name in rows.columns:
            out[name] = rows[name].to_numpy()
    out["prediction"] = np.nan if spec.task == "regression" else None
    out["status"], out["reason"] = "failed", None
    out["run_key"] = best["run_key"].iloc[0] if len(best) else None
    out["estimator_name"] = best["estimator_name"].iloc[0] if len(best) else None
    out["scored_at"] = pd.Timestamp.now(tz="UTC")
    if "probabilities" in columns:
        out["probabilities"] = None
    if rows.empty:
        return out[list(columns)]
    if best.empty:
        out["reason"] = "no trained model for this group: it has no ok run in sweep_runs"
        return out[list(columns)]
    try:
        # estimator classes of the spec's allowlist and the helper types pipelines hold, never a
        # module prefix: "numpy." trusted numpy.load (issue 17)
        pipeline = load_model(bytes(best["model"].iloc[0]), allowed_modules=spec.allowed_modules)
    except Exception as exc:  # a bad blob fails this group's rows, never the build
        out["reason"] = (
            f"model of run {out['run_key'].iloc[0]} failed to load: {type(exc).__name__}: {exc}"
        )
        return out[list(columns)]
    _predict_into(out, rows.reset_index(drop=True), pipeline, spec, scoring)
    return out[list(columns)]


def _predict_into(
    out: pd.DataFrame, rows: pd.DataFrame, pipeline: Any, spec: SweepSpec, scoring: ScoringSpec
) -> None:
    names = list(getattr(pipeline, "feature_names_in_", []))
    missing = [name for name in names if name not in rows.columns]
    if missing:
        out["reason"] = f"feature columns {missing} are missing from the scoring rows"
        return
    X = rows[names]
    usable = np.ones(len(rows), dtype=bool)
    if not _handles_nulls(pipeline):
        nulls = X.isna()
        usable = ~nulls.any(axis=1).to_numpy()
        first_null = nulls.idxmax(axis=1)
        for i in np.flatnonzero(~usable):
            out.loc[i, "reason"] = (
                f"feature '{first_null.iloc[i]}' is null and the model has no imputer"
            )
    if not usable.any():
        return
    try:
        predicted = pipeline.predict(X[usable])
    except Exception as exc:
        out.loc[usable, "reason"] = f"predict failed: {type(exc).__name__}: {exc}"
        return
    out.loc[usable, "prediction"] = (
        predicted if spec.task == "regression" else predicted.astype(str)
    )
    out.loc[usable, "status"] = "ok"
    if "probabilities" in out.columns:
        _probabilities_into(out, X[usable], usable, pipeline)


def _probabilities_into(
    out: pd.DataFrame, X: pd.DataFrame, usable: np.ndarray, pipeline: Any
) -> None:
    if not hasattr(pipeline, "predict_proba"):
        out.loc[usable, "reason"] = (
            f"{type(pipeline[-1]).__name__} has no predict_proba: probabilities are null"
        )
        return
    labels = [str(label) for label in pipeline.classes_]
    matrix = pipeline.predict_proba(X)
    out.loc[usable, "probabilities"] = pd.Series(
        [dict(zip(labels, map(float, row), strict=True)) for row in matrix],
        index=np.flatnonzero(usable),
    )


def _handles_nulls(pipeline: Any) -> bool:
    """Whether the fitted pipeline imputes (dbt-sweep's pipelines put a SimpleImputer first)."""
    from sklearn.impute import SimpleImputer

    steps = getattr(pipeline, "steps", [])
    transformers = []
    for _, step in steps:
        transformers.append(step)
        for _, inner, _ in getattr(step, "transformers_", []):
            transformers.append(inner)
            transformers.extend(s for _, s in getattr(inner, "steps", []))
    return any(isinstance(t, SimpleImputer) for t in transformers)
