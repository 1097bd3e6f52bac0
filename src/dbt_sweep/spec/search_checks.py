"""The checks that an estimator's search settings fit its ``search``, each returning its problems.

``grid`` belongs to ``search: grid``, ``space`` and ``trials`` to ``random`` and ``optuna``,
``halving`` to ``random`` and ``grid``, ``pruning`` to ``optuna`` on an estimator with
``partial_fit``; a search run needs a random or time split and reserves the keys of
:data:`dbt_sweep.spec.search.SEARCH_KEYS`. Run by :func:`dbt_sweep.spec.checks.estimator_list_problems`.
"""

from __future__ import annotations

import math

from dbt_sweep.exceptions import SpecProblem
from dbt_sweep.spec.estimators import import_estimator
from dbt_sweep.spec.parts import EstimatorSpec, KFoldSplit, RandomSplit, TimeSplit
from dbt_sweep.spec.search import SEARCH_KEYS

__all__ = ["pruning_problems", "search_problems"]


def search_problems(
    est: EstimatorSpec, *, split: RandomSplit | TimeSplit | KFoldSplit, key: str
) -> list[SpecProblem]:
    """Check that ``grid``/``space``/``trials``/``halving``/``pruning`` fit the estimator's ``search``.

    Parameters
    ----------
    est : EstimatorSpec
        One ``sweep.estimators[i]`` entry.
    split : RandomSplit, TimeSplit or KFoldSplit
        ``sweep.split``: a search run needs a validation split carved from one training split.
    key : str
        The entry's key path, e.g. ``"sweep.estimators[1]"``.

    Returns
    -------
    list of SpecProblem
        Empty when the settings fit; nothing is imported.

    Examples
    --------
    >>> est = EstimatorSpec(estimator="sklearn.svm.SVR", search="random", trials=5)
    >>> [p.key for p in search_problems(est, split=RandomSplit(), key="sweep.estimators[0]")]
    ['sweep.estimators[0].space']
    """
    problems: list[SpecProblem] = []
    if est.pruning is not None and est.search != "optuna":
        problems.append(
            SpecProblem(
                f"{key}.pruning",
                f"is only implemented for search: optuna. Got search {est.search!r} instead; "
                f"set {key}.search: optuna or remove {key}.pruning.",
            )
        )
    if est.pruning is not None and est.pruning.warmup >= est.pruning.epochs:
        problems.append(
            SpecProblem(
                f"{key}.pruning.warmup",
                f"must be less than {key}.pruning.epochs ({est.pruning.epochs}), or no trial can be pruned. "
                f"Got {est.pruning.warmup} instead.",
            )
        )
    if est.halving is not None and est.search == "optuna":
        problems.append(
            SpecProblem(
                f"{key}.halving",
                f"is only implemented for search: random or grid. Got search 'optuna' instead; "
                f"remove it (Optuna stops trials early with {key}.pruning).",
            )
        )
    if est.search == "grid":
        for part in ("space", "trials"):
            if getattr(est, part):
                problems.append(
                    SpecProblem(
                        f"{key}.{part}",
                        f"is only used with search: random or optuna. Got search 'grid' instead; "
                        f"set {key}.search or remove {key}.{part}.",
                    )
                )
        if est.halving is not None:
            points = math.prod(len(values) for values in est.grid.values())
            if points < 2:
                problems.append(
                    SpecProblem(
                        f"{key}.grid",
                        f"must have at least 2 points with {key}.halving (halving picks among the grid's "
                        f"configurations). Got {points} point(s) instead; add values or remove {key}.halving.",
                    )
                )
            problems += _search_unit_problems(est, split=split, key=key, where=f"{key}.halving")
        return problems
    if est.grid:
        problems.append(
            SpecProblem(
                f"{key}.grid",
                f"is only used with search: grid. Got search {est.search!r} instead; "
                f"write the values as {key}.space.<param>: {{choice: [...]}}.",
            )
        )
    for part in ("space", "trials"):
        if not getattr(est, part):
            problems.append(
                SpecProblem(
                    f"{key}.{part}", f"is required with search {est.search!r} but missing; add it."
                )
            )
    problems += _search_unit_problems(est, split=split, key=key, where=f"{key}.search")
    for name, dim in est.space.items():
        where = f"{key}.space.{name}"
        kind = dim.kind()
        if kind is None:
            got = dim.model_dump(exclude_defaults=True)
            problems.append(
                SpecProblem(
                    where, f"must set exactly one of 'choice', 'int', 'float'. Got {got!r} instead."
                )
            )
            continue
        if kind == "choice":
            if dim.log:
                problems.append(SpecProblem(f"{where}.log", "only applies to int or float ranges."))
            continue
        low, high = getattr(dim, kind)
        if not low < high:
            problems.append(
                SpecProblem(
                    f"{where}.{kind}",
                    f"must be a list [low, high] with low < high. Got {[low, high]!r} instead.",
                )
            )
        elif dim.log and low <= 0:
            problems.append(
                SpecProblem(
                    f"{where}.{kind}",
                    f"must have low > 0 with log: true. Got {[low, high]!r} instead.",
                )
            )
    return problems


def _search_unit_problems(
    est: EstimatorSpec, *, split: RandomSplit | TimeSplit | KFoldSplit, key: str, where: str
) -> list[SpecProblem]:
    """A search run needs a validation split carved from one training split, and reserves its keys."""
    problems = []
    if isinstance(split, KFoldSplit):
        what = f"is {est.search!r}, which" if where.endswith(".search") else "is set, which"
        problems.append(
            SpecProblem(
                where,
                f"{what} needs a random or time split (trials are scored on a validation "
                f"split carved from the training rows). Got sweep.split.kind 'kfold' instead.",
            )
        )
    kind = "halving" if est.search == "grid" else f"search {est.search!r}"
    for name in sorted(set(est.params) & set(SEARCH_KEYS)):
        problems.append(
            SpecProblem(
                f"{key}.params.{name}", f"is reserved with {kind}; it cannot be a fixed param."
            )
        )
    return problems


def pruning_problems(est: EstimatorSpec, *, key: str) -> list[SpecProblem]:
    """Check that a pruned estimator has ``partial_fit``: pruning trains each trial epoch by epoch.

    Parameters
    ----------
    est : EstimatorSpec
        One ``sweep.estimators[i]`` entry whose estimator and params are valid (it is built).
    key : str
        The entry's key path, e.g. ``"sweep.estimators[1]"``.

    Returns
    -------
    list of SpecProblem
        Empty without ``pruning`` or with ``partial_fit``.

    Examples
    --------
    >>> est = EstimatorSpec(estimator="sklearn.svm.SVR", search="optuna", pruning={})
    >>> [p.key for p in pruning_problems(est, key="sweep.estimators[0]")]
    ['sweep.estimators[0].pruning']
    """
    if est.pruning is None:
        return []
    instance = import_estimator(est.estimator)(**est.params)
    if hasattr(instance, "partial_fit"):
        return []
    name = type(instance).__name__
    return [
        SpecProblem(
            f"{key}.pruning",
            f"needs an estimator with partial_fit (each trial trains epoch by epoch). Got estimator "
            f"{est.estimator!r} instead, and {name} has no partial_fit; use one that has "
            f"(SGDRegressor, SGDClassifier, MLPRegressor, MLPClassifier, Perceptron, ...) or remove {key}.pruning.",
        )
    ]
