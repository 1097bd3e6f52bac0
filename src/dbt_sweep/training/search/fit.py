"""The training side of a search run: its validation split, its objectives, its seeded estimator.

:func:`search_params` is called by :mod:`dbt_sweep.training.unit` for a manifest row that is a
search run (:func:`dbt_sweep.spec.search.is_search_run`). Trials fit on the training rows minus a
validation split and are scored there with the primary metric; the test rows are never seen.
Trials take their fitted preprocessing from the unit's cache
(:meth:`dbt_sweep.training.prepare.PreparedUnit.preprocess`), so imputation, scaling and encoding
are fitted once per set of rows, not once per trial. With Optuna pruning each trial trains epoch
by epoch (:mod:`~dbt_sweep.training.search.epochs`).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from dbt_sweep.metrics import compute_metrics
from dbt_sweep.spec import SweepSpec
from dbt_sweep.spec.estimators import import_estimator
from dbt_sweep.spec.search import SearchConfig, decode
from dbt_sweep.training.prepare import PreparedUnit
from dbt_sweep.training.search.core import run_search
from dbt_sweep.training.search.epochs import epoch_objective, pruning_epochs
from dbt_sweep.training.search.trials import Objective

__all__ = ["search_params", "seeded", "trial_objective", "validation_split"]

#: ``fit(rows, params, epochs=None) -> Pipeline``: build and fit a run's pipeline on those rows.
Fit = Callable[..., Pipeline]


def seeded(estimator: str, config: SearchConfig) -> SearchConfig:
    """Fix ``random_state`` to the search's ``seed`` when the estimator has one and the spec leaves it unset.

    Without it an estimator that draws random numbers (SGD's shuffling, an MLP's initial weights,
    a forest's bootstrap) would give different trials, and a different winner, in every build.
    The value is part of the run's best ``params``, so the refit uses it too.

    Examples
    --------
    >>> from dbt_sweep.spec.search import decode
    >>> config = decode({"space": {"max_depth": {"int": [1, 4]}}, "trials": 2, "seed": 7})
    >>> seeded("sklearn.tree.DecisionTreeRegressor", config).fixed
    {'random_state': 7}
    >>> seeded("sklearn.linear_model.Ridge", config).fixed["random_state"]
    7
    >>> seeded("sklearn.svm.SVR", config).fixed
    {}
    """
    accepts = "random_state" in inspect.signature(import_estimator(estimator)).parameters
    set_by_spec = "random_state" in {*config.fixed, *config.space, *(config.grid or {})}
    if not accepts or set_by_spec:
        return config
    return dataclasses.replace(config, fixed={**config.fixed, "random_state": config.seed})


def validation_split(
    train: np.ndarray,
    *,
    size: float,
    seed: int,
    y: np.ndarray,
    stratify: bool,
    order: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation split out of the training rows ``train`` (never the test rows).

    Parameters
    ----------
    train : ndarray of int
        Row positions of the training split.
    size : float
        Fraction of ``train`` held out for validation (at least one row, at least one left).
    seed : int
        ``random_state`` of the random carve.
    y : ndarray
        The group's target, indexed by row position (for stratification).
    stratify : bool
        Stratify on ``y`` (classification) when every class has at least two training rows.
    order : ndarray or None, default=None
        Time order of every row of the group (time splits): then the latest training rows
        are the validation rows, as the latest rows are the test rows.

    Returns
    -------
    (inner, validation) : tuple of sorted ndarrays of int
        Disjoint, their union is ``train``.

    Examples
    --------
    >>> validation_split(np.arange(10), size=0.2, seed=0, y=np.zeros(10), stratify=False,
    ...     order=np.arange(10)[::-1])
    (array([2, 3, 4, 5, 6, 7, 8, 9]), array([0, 1]))
    """
    n = len(train)
    n_val = min(max(1, math.ceil(size * n)), n - 1)
    if n_val < 1:
        raise ValueError(
            f"the training split has {n} row(s): too few to carve a validation split for the search"
        )
    if order is not None:
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(len(order))
        by_time = train[np.argsort(rank[train], kind="stable")]
        return np.sort(by_time[: n - n_val]), np.sort(by_time[n - n_val :])
    labels = y[train]
    counts = np.unique(labels, return_counts=True)[1]
    can_stratify = stratify and counts.min() >= 2 and min(n_val, n - n_val) >= len(counts)
    inner, val = train_test_split(
        train, test_size=n_val, random_state=seed, stratify=labels if can_stratify else None
    )
    return np.sort(inner), np.sort(val)


def trial_objective(
    fit: Fit, unit: PreparedUnit, inner: np.ndarray, val: np.ndarray, *, primary: str, seed: int
) -> Objective:
    """Return the objective of a trial: fit on ``inner`` (halving: a seeded prefix), score ``val``.

    Parameters
    ----------
    fit : callable
        ``fit(rows, params) -> Pipeline`` (the unit's cached-preprocessing fit).
    unit : PreparedUnit
        The prepared unit.
    inner, val : ndarray of int
        Search training rows and validation rows (:func:`validation_split`).
    primary : str
        The metric the objective returns.
    seed : int
        Seeds the order whose prefixes halving rounds train on.

    Returns
    -------
    callable
        ``objective(params, n_rows=None) -> float``.
    """
    y_val = unit.y[val]
    # halving rounds fit on a prefix of the search training rows in a seeded order
    shuffled = np.random.default_rng(seed).permutation(inner)

    def objective(candidate: dict[str, Any], n_rows: int | None = None) -> float:
        rows = inner if n_rows is None else np.sort(shuffled[:n_rows])
        model, X_val = unit.scoring_input(fit(rows, candidate), rows, val)
        return compute_metrics(model, X_val, y_val, [primary], classes=unit.classes)[primary]

    return objective


def search_params(
    row: Mapping[str, Any],
    params: dict[str, Any],
    unit: PreparedUnit,
    spec: SweepSpec,
    fit: Fit,
    timing: dict[str, float],
) -> tuple[dict[str, Any], str, int | None]:
    """Run a search run's trials on a validation split carved from the training rows.

    Parameters
    ----------
    row : mapping
        The manifest row (``estimator``, ``search``).
    params : dict
        The row's decoded ``params``: fixed params and search settings.
    unit : PreparedUnit
        The prepared unit (features, target, splits, preprocessing cache).
    spec : SweepSpec
        The validated spec (primary metric, split, preprocessing).
    fit : callable
        ``fit(rows, params) -> Pipeline``: build and fit the run's pipeline on those rows
        (it adds its time to ``timing["fit_seconds"]``).
    timing : dict
        The run's timing; epoch-by-epoch trials add their training time to ``fit_seconds``.

    Returns
    -------
    best_params : dict
        Fixed params merged with the best trial's point.
    trials : str
        Every trial as a JSON array (see :func:`dbt_sweep.training.search.core.run_search`).
    epochs : int or None
        With pruning, the epochs the winner is refit for
        (:func:`~dbt_sweep.training.search.epochs.fit_epochs`); else None.

    Raises
    ------
    SearchError
        When every trial failed.
    """
    estimator = str(row["estimator"])
    config = seeded(estimator, decode(params))
    train = unit.splits[0][0]  # k-fold is rejected with a search by the spec
    stratify = spec.task == "classification" and bool(getattr(spec.split, "stratify", False))
    size = float(getattr(spec.split, "test_size", 0.2))
    inner, val = validation_split(
        train, size=size, seed=config.seed, y=unit.y, stratify=stratify, order=unit.order
    )
    objective = trial_objective(
        fit, unit, inner, val, primary=str(spec.primary_metric), seed=config.seed
    )
    pruned = config.pruning is not None
    stepwise = (
        epoch_objective(estimator, unit, spec, config, inner, val, timing=timing)
        if pruned
        else None
    )
    best, records = run_search(
        str(row["search"]), config, objective, direction=spec.primary_direction,
        n_rows=len(inner), stepwise=stepwise,
    )  # fmt: skip
    return best, json.dumps(records, default=str), pruning_epochs(config) if pruned else None
