"""The checks that span fields of a sweep spec, each returning its problems (never raising).

A field's own type, range and choices are declared on :mod:`dbt_sweep.spec.parts`; these checks
find what no single field can: a column in two roles, a metric for the other task, two estimators
of one name, an estimator outside the allowlist (search settings: :mod:`dbt_sweep.spec.search_checks`). ``SweepSpec``'s
model validator runs them and raises every problem at once. They take the parts and plain values,
not the ``SweepSpec``, so the spec's module imports them and nothing here imports it back.
"""

from __future__ import annotations

from collections.abc import Sequence

from dbt_sweep import metrics as _metrics
from dbt_sweep.exceptions import SpecProblem
from dbt_sweep.spec.estimators import estimator_problems
from dbt_sweep.spec.parts import EstimatorSpec, FeaturesExclude, KFoldSplit, RandomSplit, TimeSplit
from dbt_sweep.spec.search_checks import pruning_problems, search_problems

__all__ = ["column_problems", "estimator_list_problems", "metric_problems"]


def column_problems(
    *,
    group_by: Sequence[str],
    target: str,
    key: str | None,
    time_column: str | None,
    features: Sequence[str] | FeaturesExclude,
) -> list[SpecProblem]:
    """Check that each column plays one role only: group, target, key, time or feature.

    Parameters
    ----------
    group_by : sequence of str
        ``sweep.group_by``.
    target : str
        ``sweep.target``.
    key : str or None
        ``sweep.key``.
    time_column : str or None
        ``sweep.time_column``.
    features : sequence of str or FeaturesExclude
        ``sweep.features``; only a list of names can repeat a column.

    Returns
    -------
    list of SpecProblem
        One problem per repeated column, naming the key that has it first.

    Examples
    --------
    >>> column_problems(group_by=["g"], target="g", key=None, time_column=None, features=["x"])
    [SpecProblem(key='sweep.target', detail="names column 'g', which is already sweep.group_by[0].")]
    """
    problems: list[SpecProblem] = []
    seen: dict[str, str] = {}
    for i, col in enumerate(group_by):
        if col in seen:
            problems.append(
                SpecProblem(
                    f"sweep.group_by[{i}]", f"repeats column {col!r}, already at {seen[col]}."
                )
            )
        seen.setdefault(col, f"sweep.group_by[{i}]")
    roles = {"target": target, "key": key, "time_column": time_column}
    for role, col in roles.items():
        if col is not None and col in seen:
            problems.append(
                SpecProblem(f"sweep.{role}", f"names column {col!r}, which is already {seen[col]}.")
            )
        if col is not None:
            seen.setdefault(col, f"sweep.{role}")
    if isinstance(features, list):
        for i, col in enumerate(features):
            if col in seen:
                problems.append(
                    SpecProblem(
                        f"sweep.features[{i}]",
                        f"names column {col!r}, which is already {seen[col]}; a column cannot also be a feature.",
                    )
                )
            seen.setdefault(col, f"sweep.features[{i}]")
    return problems


def metric_problems(
    *, task: str, metrics: Sequence[str], primary_metric: str | None
) -> list[SpecProblem]:
    """Check that the metrics are metrics of ``task`` and that none repeats.

    Parameters
    ----------
    task : str
        ``sweep.task``.
    metrics : sequence of str
        ``sweep.metrics``, with its default filled in.
    primary_metric : str or None
        ``sweep.primary_metric``, with its default filled in.

    Returns
    -------
    list of SpecProblem
        The wrong metrics, listing the valid ones; then the repeats.

    Examples
    --------
    >>> [p.key for p in metric_problems(task="regression", metrics=["mae", "f1"], primary_metric="mae")]
    ['sweep.metrics[1]']
    """
    valid = _metrics.metrics_for_task(task)
    tail = f"Valid metrics for task {task!r} are: {valid}."
    problems = [
        SpecProblem(
            f"sweep.metrics[{i}]",
            f"must be a metric for task {task!r}. Got {name!r} instead. {tail}",
        )
        for i, name in enumerate(metrics)
        if name not in valid
    ]
    if primary_metric not in valid:
        problems.append(
            SpecProblem(
                "sweep.primary_metric",
                f"must be a metric for task {task!r}. Got {primary_metric!r} instead. {tail}",
            )
        )
    for i, name in enumerate(metrics):
        if list(metrics).index(name) != i:
            problems.append(SpecProblem(f"sweep.metrics[{i}]", f"repeats metric {name!r}."))
    return problems


def estimator_list_problems(
    estimators: Sequence[EstimatorSpec],
    *,
    split: RandomSplit | TimeSplit | KFoldSplit,
    allowed: Sequence[str],
    task: str,
) -> list[SpecProblem]:
    """Check ``sweep.estimators``: unique names, then each entry's search settings and estimator.

    An entry's estimator is imported and checked only when its search settings fit its
    ``search``, and its pruning only when the estimator is valid.

    Parameters
    ----------
    estimators : sequence of EstimatorSpec
        ``sweep.estimators``.
    split : RandomSplit, TimeSplit or KFoldSplit
        ``sweep.split``: a search needs a validation split carved from one training split.
    allowed : sequence of str
        ``sweep.allowed_modules``.
    task : str
        ``sweep.task``.

    Returns
    -------
    list of SpecProblem
        The problems of each entry in turn.

    Examples
    --------
    >>> ridge = EstimatorSpec(estimator="sklearn.linear_model.Ridge", params={"alpha": -1.0})
    >>> [p.key for p in estimator_list_problems(
    ...     [ridge, ridge], split=RandomSplit(), allowed=["sklearn."], task="regression")]
    ['sweep.estimators[0].params.alpha', 'sweep.estimators[1].name', 'sweep.estimators[1].params.alpha']
    """
    problems: list[SpecProblem] = []
    names: dict[str, int] = {}
    for i, est in enumerate(estimators):
        key = f"sweep.estimators[{i}]"
        if est.name in names:
            problems.append(
                SpecProblem(
                    f"{key}.name",
                    f"must be unique; 'sweep.estimators[{names[est.name]}]' has the same name. "
                    f"Got {est.name!r} instead; set a distinct name.",
                )
            )
        names.setdefault(est.name or "", i)
        shape = search_problems(est, split=split, key=key)
        problems += shape
        if not shape:
            # each dimension by the values it is set by: what is sampled lies between them
            space = {name: getattr(dim, str(dim.kind())) for name, dim in est.space.items()}
            found = estimator_problems(
                est.estimator, params=est.params, grid=est.grid, space=space,
                key=key, allowed=allowed, task=task,
            )  # fmt: skip
            problems += found or pruning_problems(est, key=key)
    return problems
