"""Estimators named in a spec: import one by its path, check its params against sklearn's constraints.

These checks run on the driver when the spec is validated (they may import the estimator's module);
the allowlist of module prefixes is checked before anything is imported.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sklearn.base import is_classifier, is_regressor
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from dbt_sweep.exceptions import SpecProblem

__all__ = ["estimator_problems", "import_estimator"]

# "The 'C' parameter of SVR must be ..." -> "must be ..."
_SKLEARN_PREFIX = re.compile(r"^The '[^']*' parameter of \S+ ")


@lru_cache(maxsize=256)
def import_estimator(path: str) -> type:
    """Import ``"module.Class"`` and return the class (cached per worker).

    Parameters
    ----------
    path : str
        An import path already checked against the allowlist by :func:`estimator_problems`.

    Returns
    -------
    type
        The class ``Class`` of module ``module``.

    Examples
    --------
    >>> import_estimator("sklearn.linear_model.Ridge").__name__
    'Ridge'
    """
    module_name, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def _param_names(cls: type) -> list[str]:
    """Return the sorted ``__init__`` parameter names of estimator class ``cls``."""
    if hasattr(cls, "_get_param_names"):
        return sorted(cls._get_param_names())
    return sorted(cls().get_params(deep=False))


def _import_problem(path: str, key: str) -> tuple[type | None, list[SpecProblem]]:
    """Import ``path``: the estimator class, or None and the problem that stopped the import."""
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
    estimator: str,
    *,
    params: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    space: Mapping[str, Sequence[Any]],
    key: str,
    allowed: Sequence[str],
    task: str,
) -> list[SpecProblem]:
    """Check one ``sweep.estimators[i]`` entry: allowlist, import, params, values, task.

    The allowlist is checked before importing, so a disallowed module is never imported.

    Parameters
    ----------
    estimator : str
        The entry's ``estimator``, an import path ``"module.Class"``.
    params : mapping of str to any
        The entry's fixed ``params``.
    grid : mapping of str to sequence
        The entry's ``grid``: each parameter's values.
    space : mapping of str to sequence
        The entry's ``space``, each dimension as the values it is set by: its ``choice``
        list or its ``[low, high]`` range ends.
    key : str
        The entry's key path, e.g. ``"sweep.estimators[1]"``.
    allowed : sequence of str
        The module prefixes estimators may be imported from (``sweep.allowed_modules``).
    task : str
        ``"regression"`` or ``"classification"``.

    Returns
    -------
    list of SpecProblem
        Empty when the entry is valid.

    Examples
    --------
    >>> [p.detail for p in estimator_problems(
    ...     "sklearn.svm.SVR", params={"C": -1}, grid={}, space={},
    ...     key="sweep.estimators[0]", allowed=["sklearn."], task="regression")]
    ['must be a float in the range (0.0, inf]. Got -1 instead.']
    """
    if not any(estimator.startswith(prefix) for prefix in allowed):
        detail = (
            f"is {estimator!r}, which is not in the estimator allowlist {list(allowed)}; "
            "add its module prefix to sweep.allowed_modules."
        )
        return [SpecProblem(f"{key}.estimator", detail)]
    cls, problems = _import_problem(estimator, f"{key}.estimator")
    if cls is None:
        return problems
    valid = _param_names(cls)
    for part, names in (("params", params), ("grid", grid), ("space", space)):
        for name in names:
            if name not in valid:
                detail = f"is not a parameter of {cls.__name__}. Valid parameters are: {valid}."
                problems.append(SpecProblem(f"{key}.{part}.{name}", detail))
    for part, names in (("grid", grid), ("space", space)):
        for name in sorted(set(params) & set(names)):
            detail = f"is also set in {key}.params; set it in one place."
            problems.append(SpecProblem(f"{key}.{part}.{name}", detail))
    if problems:
        return problems
    problems = _constraint_problems(cls, f"{key}.params", params, False)
    problems += _constraint_problems(cls, f"{key}.grid", grid, True)
    # a range's ends (and every choice) must be valid values: what is sampled lies between them
    problems += _constraint_problems(cls, f"{key}.space", space, True)
    if problems:
        return problems
    try:
        instance = cls(**params)
    except Exception as exc:  # a third-party __init__ may raise anything
        return [
            SpecProblem(
                f"{key}.params", f"cannot build {cls.__name__}: {type(exc).__name__}: {exc}"
            )
        ]
    wrong = is_classifier(instance) if task == "regression" else is_regressor(instance)
    if wrong:
        kind = "regressor" if task == "regression" else "classifier"
        detail = f"must name a {kind} for task {task!r}. Got {estimator!r} instead."
        problems.append(SpecProblem(f"{key}.estimator", detail))
    return problems
