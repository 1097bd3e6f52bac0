"""The training Pipeline of one run: imputation, scaling, one-hot encoding, feature selection, estimator.

:func:`build_pipeline` runs inside Spark's Python workers, once per fit of a run or a search trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from dbt_sweep.spec.estimators import import_estimator

if TYPE_CHECKING:
    from dbt_sweep.spec import PreprocessingSpec

__all__ = ["build_pipeline"]


def build_pipeline(
    estimator: str,
    params: Mapping[str, Any],
    preprocessing: PreprocessingSpec,
    *,
    task: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    n_encoded: int | None = None,
) -> Pipeline:
    """Build the sklearn Pipeline for one run.

    Parameters
    ----------
    estimator : str
        Import path of the estimator class.
    params : mapping
        Estimator parameters (fixed params merged with the grid point).
    preprocessing : PreprocessingSpec
        Imputation, one-hot encoding, scaling and feature selection settings.
    task : {"regression", "classification"}
        Picks the SelectKBest score function.
    numeric, categorical : sequence of str
        Numeric feature columns, and columns to one-hot encode.
    n_encoded : int or None, default=None
        Number of columns after encoding; caps SelectKBest's ``k``.

    Returns
    -------
    Pipeline
        With categorical columns: ``preprocess`` (a ColumnTransformer); with numeric columns only:
        ``impute`` and ``scale`` as configured; then optionally ``select``, and ``estimator``.
        Every step before ``estimator`` depends on the spec and the group only, never on the
        estimator or its params: :meth:`dbt_sweep.training.prepare.PreparedUnit.preprocess` relies
        on that to share the fitted steps between the runs of a unit.
    """
    impute = preprocessing.impute
    num_steps: list[tuple[str, Any]] = []
    if impute is not None:
        fill = {"fill_value": impute.fill_value} if impute.fill_value is not None else {}
        num_steps.append(("impute", SimpleImputer(strategy=impute.strategy, **fill)))
    if preprocessing.scale != "none":
        num_steps.append(
            ("scale", StandardScaler() if preprocessing.scale == "standard" else MinMaxScaler())
        )
    steps: list[tuple[str, Any]]
    if categorical:
        transformers: list[tuple[str, Any, list[str]]] = []
        if numeric:
            transformers.append(
                ("numeric", Pipeline(num_steps) if num_steps else "passthrough", list(numeric))
            )
        cat_steps: list[tuple[str, Any]] = (
            [("impute", SimpleImputer(strategy="most_frequent"))] if impute else []
        )
        # dense output: several estimators (HistGradientBoosting*) reject sparse input
        cat_steps.append(("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)))
        transformers.append(("categorical", Pipeline(cat_steps), list(categorical)))
        steps = [("preprocess", ColumnTransformer(transformers, remainder="drop"))]
    else:
        # All numeric: the steps themselves, no ColumnTransformer. Same output; it halves the
        # per-run cost of fitting and of the skops file (its schema is mostly ColumnTransformer).
        steps = list(num_steps)
    if preprocessing.select_k_best is not None:
        k = preprocessing.select_k_best.k
        k = min(k, n_encoded) if n_encoded else k
        score = f_classif if task == "classification" else f_regression
        steps.append(("select", SelectKBest(score, k=k)))
    steps.append(("estimator", import_estimator(estimator)(**params)))
    return Pipeline(steps)
