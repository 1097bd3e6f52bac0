"""The training side of a search run: its validation split, its objectives, its seeded estimator.

:func:`search_params` is called by ``dbt_sweep.training.unit`` for a manifest row that is a search run
(:func:`dbt_sweep.training.search.core.is_search_run`). Trials fit on the training rows minus a validation split
and are scored there with the primary metric; the test rows are never seen. With Optuna pruning,
the preprocessing steps are fitted once per search and each trial ``partial_fit``\\ s the estimator
epoch by epoch (:func:`fit_epochs` trains the winner the same way).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.pipeline import Pipeline

from dbt_sweep.metrics import compute_metrics
from dbt_sweep.spec.estimators import import_estimator
from dbt_sweep.spec.search import SearchConfig, decode
from dbt_sweep.training.pipeline import build_pipeline
from dbt_sweep.training.search.core import partial_fit_epochs, run_search, validation_split

if TYPE_CHECKING:
    from dbt_sweep.spec import SweepSpec
    from dbt_sweep.training.unit import _Group

__all__ = ["fit_epochs", "search_params", "seeded"]

Fit = Callable[..., Pipeline]


def seeded(estimator: str, config: SearchConfig) -> SearchConfig:
    """Fix ``random_state`` to the search's ``seed`` when the estimator has one and the spec leaves it unset.

    Without it an estimator that draws random numbers (SGD's shuffling, an MLP's initial weights,
    a forest's bootstrap) would give different trials, and a different winner, in every build.
    The value is part of the run's best ``params``, so the refit uses it too.
    """
    accepts = "random_state" in inspect.signature(import_estimator(estimator)).parameters
    set_by_spec = "random_state" in {*config.fixed, *config.space, *(config.grid or {})}
    if not accepts or set_by_spec:
        return config
    return dataclasses.replace(config, fixed={**config.fixed, "random_state": config.seed})


def fit_epochs(
    pipe: Pipeline, X: Any, y: np.ndarray, *, epochs: int, classes: np.ndarray | None
) -> Pipeline:
    """Fit ``pipe``'s preprocessing steps, then ``partial_fit`` its estimator ``epochs`` times.

    This is how a pruned Optuna search trains its trials, so its winner is refit the same way
    (an estimator's ``fit`` runs its own number of epochs and stopping rule).
    """
    # no preprocessing configured: the pipeline is the estimator alone, and an empty Pipeline cannot fit
    Xt = pipe[:-1].fit_transform(X, y) if len(pipe) > 1 else X
    for _ in partial_fit_epochs(pipe[-1], Xt, y, epochs=epochs, classes=classes):
        pass
    return pipe


def search_params(
    row: Mapping[str, Any],
    params: dict[str, Any],
    group: _Group,
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
    group : _Group
        The prepared group (features, target, splits).
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
        With pruning, the epochs the winner is refit for (:func:`fit_epochs`); else None.
    """
    config = seeded(str(row["estimator"]), decode(params))
    primary = str(spec.primary_metric)
    train = group.splits[0][0]  # k-fold is rejected with a search by the spec
    stratify = spec.task == "classification" and bool(getattr(spec.split, "stratify", False))
    size = float(getattr(spec.split, "test_size", 0.2))
    inner, val = validation_split(
        train, size=size, seed=config.seed, y=group.y, stratify=stratify, order=group.order
    )
    X_val, y_val = group.X.iloc[val], group.y[val]

    # halving rounds fit on a prefix of the search training rows in a seeded order
    shuffled = np.random.default_rng(config.seed).permutation(inner)

    def objective(candidate: dict[str, Any], n_rows: int | None = None) -> float:
        pipe = fit(inner if n_rows is None else np.sort(shuffled[:n_rows]), candidate)
        return compute_metrics(pipe, X_val, y_val, [primary], classes=group.classes)[primary]

    prepared: list[Any] = []  # the preprocessing, fitted once on the search training rows

    def stepwise(candidate: dict[str, Any]) -> Iterator[float]:
        start = time.perf_counter()
        if not prepared:
            steps = build_pipeline(
                str(row["estimator"]), config.fixed, spec.preprocessing, task=spec.task,
                numeric=group.numeric, categorical=group.categorical, n_encoded=group.n_encoded,
            )[:-1]  # fmt: skip
            if len(steps):
                prepared.extend(
                    [
                        steps.fit_transform(group.X.iloc[inner], group.y[inner]),
                        steps.transform(X_val),
                    ]
                )
            else:  # no preprocessing configured (see fit_epochs)
                prepared.extend([group.X.iloc[inner], X_val])
        X_inner, X_valt = prepared
        estimator = import_estimator(str(row["estimator"]))(**candidate)
        epochs = partial_fit_epochs(
            estimator, X_inner, group.y[inner], epochs=_epochs(config), classes=group.classes
        )
        for _ in epochs:
            timing["fit_seconds"] += time.perf_counter() - start
            yield compute_metrics(estimator, X_valt, y_val, [primary], classes=group.classes)[
                primary
            ]
            start = time.perf_counter()

    best, records = run_search(
        str(row["search"]), config, objective, direction=spec.primary_direction, n_rows=len(inner),
        stepwise=stepwise if config.pruning is not None else None,
    )  # fmt: skip
    return (
        best,
        json.dumps(records, default=str),
        _epochs(config) if config.pruning is not None else None,
    )


def _epochs(config: SearchConfig) -> int:
    return int((config.pruning or {}).get("epochs", 0))
