"""Estimators and pipelines: import an estimator by path, check its params, build the Pipeline.

The spec-time checks (:func:`estimator_problems`) run on the driver and may import;
:func:`build_pipeline` runs inside Spark's Python workers.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sklearn.base import is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from dbt_sweep.exceptions import SpecProblem

if TYPE_CHECKING:
    from dbt_sweep.spec import EstimatorSpec, PreprocessingSpec

__all__ = ["build_pipeline", "estimator_problems", "import_estimator"]

# "The 'C' parameter of SVR must be ..." -> "must be ..."
_SKLEARN_PREFIX = re.compile(r"^The '[^']*' parameter of \S+ ")


@lru_cache(maxsize=256)
def import_estimator(path: str) -> type:
    """Import ``"module.Class"`` and return the class (cached per worker)."""
    module_name, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def _param_names(cls: type) -> list[str]:
    if hasattr(cls, "_get_param_names"):
        return sorted(cls._get_param_names())
    return sorted(cls().get_params(deep=False))


def _import_problem(path: str, key: str) -> tuple[type | None, list[SpecProblem]]:
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, [
            SpecProblem(
                key, f"must be an importable 'module.Class' path. Got {path!r} instead: {exc}."
            )
        ]
    cls = getattr(module, name, None)
    if cls is None:
        close = difflib.get_close_matches(
            name, [n for n in dir(module) if not n.startswith("_")], n=3
        )
        hint = f" Did you mean one of {close}?" if close else ""
        detail = f"must be an importable 'module.Class' path. Got {path!r} instead: {module_name} has no {name!r}."
        return None, [SpecProblem(key, detail + hint)]
    if not (isinstance(cls, type) and hasattr(cls, "fit") and hasattr(cls, "get_params")):
        return None, [
            SpecProblem(
                key, f"must name a scikit-learn estimator class with fit. Got {path!r} instead."
            )
        ]
    return cls, []


def _constraint_problems(
    cls: type, key: str, params: Mapping[str, Any], many: bool
) -> list[SpecProblem]:
    """Check values against sklearn's ``_parameter_constraints`` (each grid value on its own)."""
    constraints = getattr(cls, "_parameter_constraints", None) or {}
    problems = []
    for name, value in params.items():
        for item in value if many else [value]:
            if name not in constraints:
                continue
            try:
                validate_parameter_constraints(constraints, {name: item}, caller_name=cls.__name__)
            except InvalidParameterError as exc:
                problems.append(SpecProblem(f"{key}.{name}", _SKLEARN_PREFIX.sub("", str(exc))))
                break
    return problems


def estimator_problems(
    est: EstimatorSpec, *, key: str, allowed: Sequence[str], task: str
) -> list[SpecProblem]:
    """Check one ``sweep.estimators[i]`` entry: allowlist, import, params, values, task.

    The allowlist is checked before importing, so a disallowed module is never imported.
    """
    if not any(est.estimator.startswith(prefix) for prefix in allowed):
        detail = (
            f"is {est.estimator!r}, which is not in the estimator allowlist {list(allowed)}; "
            "add its module prefix to sweep.allowed_modules."
        )
        return [SpecProblem(f"{key}.estimator", detail)]
    cls, problems = _import_problem(est.estimator, f"{key}.estimator")
    if cls is None:
        return problems
    valid = _param_names(cls)
    for part, params in (("params", est.params), ("grid", est.grid), ("space", est.space)):
        for name in params:
            if name not in valid:
                detail = f"is not a parameter of {cls.__name__}. Valid parameters are: {valid}."
                problems.append(SpecProblem(f"{key}.{part}.{name}", detail))
    for part, params in (("grid", est.grid), ("space", est.space)):
        for name in sorted(set(est.params) & set(params)):
            detail = f"is also set in {key}.params; set it in one place."
            problems.append(SpecProblem(f"{key}.{part}.{name}", detail))
    if problems:
        return problems
    problems = _constraint_problems(cls, f"{key}.params", est.params, False)
    problems += _constraint_problems(cls, f"{key}.grid", est.grid, True)
    # a range's ends (and every choice) must be valid values: what is sampled lies between them
    space = {name: getattr(dim, str(dim.kind())) for name, dim in est.space.items()}
    problems += _constraint_problems(cls, f"{key}.space", space, True)
    if problems:
        return problems
    try:
        instance = cls(**est.params)
    except Exception as exc:  # a third-party __init__ may raise anything
        return [
            SpecProblem(
                f"{key}.params", f"cannot build {cls.__name__}: {type(exc).__name__}: {exc}"
            )
        ]
    wrong = is_classifier(instance) if task == "regression" else is_regressor(instance)
    if wrong:
        kind = "regressor" if task == "regression" else "classifier"
        detail = f"must name a {kind} for task {task!r}. Got {est.estimator!r} instead."
        problems.append(SpecProblem(f"{key}.estimator", detail))
    return problems


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
        Every step before ``estimator`` depends on the spec and the group only (train.py shares
        them between the runs of a unit).
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
