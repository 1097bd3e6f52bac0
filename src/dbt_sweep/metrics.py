"""Metric registry: which task each metric belongs to, its direction, and how to compute it.

One table (``METRICS``) declares every metric, like sklearn's ``_SCORERS``; the spec
validates names against it and training computes from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn import metrics as skm

__all__ = ["METRICS", "Metric", "compute_metrics", "metrics_for_task"]

Task = Literal["regression", "classification"]
Direction = Literal["minimize", "maximize"]
Needs = Literal["predict", "proba", "score"]


@dataclass(frozen=True)
class Metric:
    """A metric: its task, direction, what it needs from the model, and its function."""

    task: Task
    direction: Direction
    needs: Needs
    func: Callable[[np.ndarray, np.ndarray, np.ndarray], float]


# The regression metrics are sklearn's formulas in numpy: sklearn's input validation costs more
# than the arithmetic on a sweep's small test splits (a unit test checks they agree with sklearn).
def _errors(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    pred = np.asarray(pred, dtype="float64").reshape(-1)
    if not np.isfinite(pred).all():  # as sklearn does: such a run fails rather than scoring NaN
        raise ValueError("the model's predictions contain NaN or infinity")
    return np.asarray(y, dtype="float64") - pred


def _rmse(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> float:
    return float(np.sqrt(np.mean(_errors(y, pred) ** 2)))


def _mae(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> float:
    return float(np.mean(np.abs(_errors(y, pred))))


def _r2(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> float:
    y = np.asarray(y, dtype="float64")
    residual = float(np.sum(_errors(y, pred) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    if (
        total == 0.0
    ):  # sklearn's force_finite: a constant target scores 1 if predicted exactly, else 0
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def _mape(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> float:
    y = np.asarray(y, dtype="float64")
    return float(
        np.mean(np.abs(_errors(y, pred)) / np.maximum(np.abs(y), np.finfo(np.float64).eps))
    )


def _f1(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> float:
    if len(classes) == 2:
        return float(skm.f1_score(y, pred, average="binary", pos_label=classes[1]))
    return float(skm.f1_score(y, pred, average="macro", labels=classes))


def _roc_auc(y: np.ndarray, score: np.ndarray, classes: np.ndarray) -> float:
    if len(classes) == 2:
        return float(skm.roc_auc_score(y, score))
    return float(skm.roc_auc_score(y, score, multi_class="ovr", labels=classes))


def _log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    return float(skm.log_loss(y, proba, labels=classes))


METRICS: dict[str, Metric] = {
    "mae": Metric("regression", "minimize", "predict", _mae),
    "rmse": Metric("regression", "minimize", "predict", _rmse),
    "r2": Metric("regression", "maximize", "predict", _r2),
    "mape": Metric("regression", "minimize", "predict", _mape),
    "accuracy": Metric(
        "classification", "maximize", "predict", lambda y, p, c: float(skm.accuracy_score(y, p))
    ),
    "f1": Metric("classification", "maximize", "predict", _f1),
    "roc_auc": Metric("classification", "maximize", "score", _roc_auc),
    "log_loss": Metric("classification", "minimize", "proba", _log_loss),
}


def metrics_for_task(task: str) -> list[str]:
    """Return the metric names valid for ``task``, in registry order."""
    return [name for name, metric in METRICS.items() if metric.task == task]


def _proba(model: Any, X: Any, classes: np.ndarray, metric: str) -> np.ndarray:
    """Return ``predict_proba`` with one column per class seen in the whole group.

    A class missing from the training split gets a zero column, so metrics that take
    ``labels=classes`` see a consistent shape.
    """
    if not hasattr(model, "predict_proba"):
        name = type(model[-1] if hasattr(model, "steps") else model).__name__
        raise ValueError(
            f"metric '{metric}' needs predict_proba, which {name} does not provide; "
            f"enable probabilities (e.g. probability=True) or remove '{metric}' from sweep.metrics."
        )
    raw = np.asarray(model.predict_proba(X))
    out = np.zeros((raw.shape[0], len(classes)))
    positions = np.searchsorted(classes, model.classes_)
    out[:, positions] = raw
    return out


def compute_metrics(
    model: Any, X: Any, y: np.ndarray, names: Sequence[str], *, classes: np.ndarray | None = None
) -> dict[str, float]:
    """Score a fitted model on ``X, y`` with each metric in ``names``.

    Parameters
    ----------
    model : estimator
        A fitted regressor or classifier (usually a Pipeline).
    X : DataFrame
        Test features.
    y : ndarray
        Test target.
    names : sequence of str
        Metric names from ``METRICS``.
    classes : ndarray or None, default=None
        Sorted classes seen in the whole group (classification only).

    Returns
    -------
    dict of str to float
    """
    classes = np.asarray(classes) if classes is not None else np.unique(y)
    cache: dict[str, np.ndarray] = {}
    scores: dict[str, float] = {}
    for name in names:
        metric = METRICS[name]
        if metric.needs == "predict":
            if "predict" not in cache:
                cache["predict"] = np.asarray(model.predict(X))
            values = cache["predict"]
        elif metric.needs == "score" and len(classes) == 2 and not hasattr(model, "predict_proba"):
            values = np.asarray(model.decision_function(X))
        else:
            if "proba" not in cache:
                cache["proba"] = _proba(model, X, classes, name)
            values = (
                cache["proba"][:, 1]
                if metric.needs == "score" and len(classes) == 2
                else cache["proba"]
            )
        scores[name] = metric.func(y, values, classes)
    return scores
