"""Epoch-by-epoch training, for searches with Optuna pruning.

A pruned trial ``partial_fit``\\ s its estimator one pass at a time and reports the validation
metric after each pass, so the study's pruner can stop it early (:func:`epoch_objective`); the
search's winner is then refit the same way on the whole training split (:func:`fit_epochs`), since
an estimator's ``fit`` runs its own number of epochs and stopping rule. Both take the fitted
preprocessing from the unit's cache (:meth:`dbt_sweep.training.prepare.PreparedUnit.preprocess`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from dbt_sweep.metrics import compute_metrics
from dbt_sweep.spec import SweepSpec
from dbt_sweep.spec.estimators import import_estimator
from dbt_sweep.spec.search import SearchConfig
from dbt_sweep.training.pipeline import build_pipeline
from dbt_sweep.training.prepare import PreparedUnit
from dbt_sweep.training.search.trials import Stepwise

__all__ = ["epoch_objective", "fit_epochs", "partial_fit_epochs", "pruning_epochs"]


def partial_fit_epochs(
    estimator: Any, X: Any, y: np.ndarray, *, epochs: int, classes: np.ndarray | None = None
) -> Iterator[int]:
    """``partial_fit`` ``estimator`` on all of ``X, y`` once per epoch; yield the epoch number after each.

    Classifiers get ``classes`` (every class of the group) on each call, as ``partial_fit`` needs
    them on the first and accepts them after.

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        Trained in place.
    X : DataFrame or ndarray
        Training features (already preprocessed).
    y : ndarray
        Training target.
    epochs : int
        Number of passes.
    classes : ndarray or None, default=None
        Every class of the group (classification).

    Yields
    ------
    int
        The epoch just trained, from 1.
    """
    kwargs = {"classes": classes} if classes is not None and is_classifier(estimator) else {}
    for epoch in range(1, epochs + 1):
        estimator.partial_fit(X, y, **kwargs)
        yield epoch


def fit_epochs(pipe: Pipeline, unit: PreparedUnit, train: np.ndarray, *, epochs: int) -> Pipeline:
    """Fit ``pipe``'s preprocessing on the rows ``train``, then ``partial_fit`` its estimator ``epochs`` times.

    This is how a pruned Optuna search trains its trials, so its winner is refit the same way
    (an estimator's ``fit`` runs its own number of epochs and stopping rule). The preprocessing
    comes from the unit's cache, fitted as ``pipe[:-1].fit_transform`` would fit it.

    Parameters
    ----------
    pipe : Pipeline
        The run's unfitted pipeline.
    unit : PreparedUnit
        The prepared unit (features, target, classes, preprocessing cache).
    train : ndarray of int
        Row positions to train on.
    epochs : int
        Passes of ``partial_fit`` over the rows.

    Returns
    -------
    Pipeline
        ``pipe``, fitted.
    """
    steps, Xt = unit.preprocess(pipe.steps[:-1], train)
    # No preprocessing configured: steps is empty and Xt the raw rows (an empty Pipeline cannot fit).
    pipe.steps[:-1] = steps
    for _ in partial_fit_epochs(pipe[-1], Xt, unit.y[train], epochs=epochs, classes=unit.classes):
        pass
    return pipe


def epoch_objective(
    estimator: str,
    unit: PreparedUnit,
    spec: SweepSpec,
    config: SearchConfig,
    inner: np.ndarray,
    val: np.ndarray,
    *,
    timing: dict[str, float],
) -> Stepwise:
    """Return the stepwise objective of a pruned trial: the validation metric after each epoch.

    The preprocessing fitted on ``inner`` (from the unit's cache) and the transformed validation
    rows are computed on the first trial and shared by the others; each trial adds its training
    time to ``timing["fit_seconds"]`` (the scoring after each epoch is not training time).

    Parameters
    ----------
    estimator : str
        Import path of the estimator class (it must have ``partial_fit``).
    unit : PreparedUnit
        The prepared unit.
    spec : SweepSpec
        Gives the preprocessing, the task and the primary metric.
    config : SearchConfig
        The search settings (fixed params, ``pruning.epochs``).
    inner, val : ndarray of int
        Search training rows and validation rows.
    timing : dict
        The run's timing.

    Returns
    -------
    callable
        ``stepwise(params)``, yielding the primary metric after each epoch.
    """
    primary = str(spec.primary_metric)
    prepared: list[Any] = []  # [X_inner, X_val] after the preprocessing, once per search

    def stepwise(candidate: dict[str, Any]) -> Iterator[float]:
        start = time.perf_counter()
        if not prepared:
            pipe = build_pipeline(
                estimator, config.fixed, spec.preprocessing, task=spec.task,
                numeric=unit.numeric, categorical=unit.categorical, n_encoded=unit.n_encoded,
            )  # fmt: skip
            steps, X_inner = unit.preprocess(pipe.steps[:-1], inner)
            X_val = unit.take(val)
            for _, step in steps:  # what Pipeline.transform does, on the cached fitted steps
                X_val = step.transform(X_val)
            prepared.extend([X_inner, X_val])
        X_inner, X_val = prepared
        model = import_estimator(estimator)(**candidate)
        epochs = partial_fit_epochs(
            model, X_inner, unit.y[inner], epochs=pruning_epochs(config), classes=unit.classes
        )
        for _ in epochs:
            timing["fit_seconds"] += time.perf_counter() - start
            scores = compute_metrics(model, X_val, unit.y[val], [primary], classes=unit.classes)
            yield scores[primary]
            start = time.perf_counter()

    return stepwise


def pruning_epochs(config: SearchConfig) -> int:
    """Return the epochs a pruned trial trains for (``pruning.epochs``; 0 without pruning)."""
    return int((config.pruning or {}).get("epochs", 0))
