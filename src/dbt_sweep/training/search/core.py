"""Hyperparameter search beyond grids: ``search: random``, ``search: optuna``, and grids with halving.

A search run is one manifest row per (group, estimator) whose ``params`` carry the fixed
parameters plus the search settings (:data:`dbt_sweep.spec.SEARCH_KEYS`: ``space``, ``trials``,
``seed``, ``halving``, ``pruning``, or a ``grid`` with ``halving``). Training (``dbt_sweep.training.unit``)
carves a validation split out of the training rows, calls :func:`run_search` with an objective that
fits on the rest of the training rows and scores the primary metric on the validation rows, then
refits the best configuration on the whole training split and scores it on the test split like a
grid run.

Pure Python and numpy (Optuna imported lazily, in :mod:`dbt_sweep.training.search.optuna_trials`): no Spark here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import train_test_split

from dbt_sweep.spec.search import SearchConfig, grid_points

__all__ = [
    "SearchError",
    "best_trial",
    "partial_fit_epochs",
    "record",
    "run_search",
    "sample_random",
    "timed",
    "validation_split",
]

Objective = Callable[..., float]


class SearchError(RuntimeError):
    """Raised when every trial of a search failed; ``records`` keeps the trials for the run's output."""

    def __init__(self, message: str, records: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.records = records


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


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def sample_random(
    space: Mapping[str, Mapping[str, Any]], *, trials: int, seed: int
) -> list[dict[str, Any]]:
    """Draw ``trials`` configurations from ``space`` with ``numpy.random.default_rng(seed)``.

    Parameters are drawn in sorted name order, so the draws depend only on the space and the seed.
    ``choice`` picks uniformly; ``int``/``float`` draw uniformly on ``[low, high]``, or uniformly in
    log space with ``log: true``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials):
        point: dict[str, Any] = {}
        for name in sorted(space):
            dim = space[name]
            if "choice" in dim:
                point[name] = dim["choice"][int(rng.integers(len(dim["choice"])))]
            elif "int" in dim:
                low, high = dim["int"]
                if dim.get("log"):
                    value = int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))
                    point[name] = min(max(value, low), high)
                else:
                    point[name] = int(rng.integers(low, high + 1))
            else:
                low, high = dim["float"]
                if dim.get("log"):
                    point[name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
                else:
                    point[name] = float(rng.uniform(low, high))
        out.append({k: _python(v) for k, v in point.items()})
    return out


def timed(
    objective: Callable[..., float], params: dict[str, Any], **kwargs: Any
) -> tuple[float | None, str, float, str | None]:
    """Evaluate one configuration: (value, state, seconds, error); never raises."""
    start = time.perf_counter()
    try:
        value = float(objective(params, **kwargs))
    except Exception as exc:  # one bad configuration must not end the search
        return None, "FAIL", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if not math.isfinite(value):
        return None, "FAIL", seconds, f"the metric is {value}"
    return value, "COMPLETE", seconds, None


def record(
    number: int, params: dict[str, Any], result: tuple[float | None, str, float, str | None]
) -> dict[str, Any]:
    """One trial record: ``number``, ``params``, ``value``, ``state``, ``seconds``, ``error`` if any."""
    value, state, seconds, error = result
    row = {"number": number, "params": params, "value": value, "state": state, "seconds": seconds}
    return {**row, "error": error[:500]} if error else row


def partial_fit_epochs(
    estimator: Any, X: Any, y: np.ndarray, *, epochs: int, classes: np.ndarray | None = None
) -> Iterator[int]:
    """``partial_fit`` ``estimator`` on all of ``X, y`` once per epoch; yield the epoch number after each.

    Classifiers get ``classes`` (every class of the group) on each call, as ``partial_fit`` needs
    them on the first and accepts them after.
    """
    kwargs = {"classes": classes} if classes is not None and is_classifier(estimator) else {}
    for epoch in range(1, epochs + 1):
        estimator.partial_fit(X, y, **kwargs)
        yield epoch


def _halving_trials(
    points: list[dict[str, Any]],
    objective: Callable[..., float],
    *,
    factor: int,
    min_rows: int,
    n_rows: int,
    direction: str,
) -> list[dict[str, Any]]:
    """Successive halving over ``points`` (random draws or grid points): rounds on ``min_rows``,
    ``min_rows * factor``, ... rows.

    Each round scores the surviving configurations on the first ``rows`` training rows of a fixed
    order and keeps the best ``ceil(len / factor)``; the last round uses every training row. A trial
    that is eliminated ends ``PRUNED`` with its last value; survivors of the last round are
    ``COMPLETE``. Records gain ``rows`` (training rows of the trial's last round) and ``rounds``.
    """
    sign = 1.0 if direction == "minimize" else -1.0
    records = [
        {
            "number": i,
            "params": p,
            "value": None,
            "state": "FAIL",
            "seconds": 0.0,
            "rows": 0,
            "rounds": 0,
        }
        for i, p in enumerate(points)
    ]
    alive = list(range(len(points)))
    rows = min(min_rows, n_rows)
    while alive:
        last = rows >= n_rows or len(alive) == 1
        for i in alive:
            value, state, seconds, error = timed(
                objective, points[i], n_rows=None if last else rows
            )
            record = records[i]
            record.update(
                value=value, state=state, rows=n_rows if last else rows, rounds=record["rounds"] + 1
            )
            record["seconds"] += seconds
            if error:
                record["error"] = error[:500]
        ok = sorted(
            (i for i in alive if records[i]["state"] != "FAIL"),
            key=lambda i: (sign * records[i]["value"], i),
        )
        if last:
            break
        keep = ok[: max(1, math.ceil(len(alive) / factor))]
        for i in ok[len(keep) :]:
            records[i]["state"] = "PRUNED"
        alive = keep
        rows = min(rows * factor, n_rows)
    return records


def best_trial(records: list[dict[str, Any]], *, direction: str) -> dict[str, Any] | None:
    """Return the best ``COMPLETE`` trial for ``direction``; ties go to the lowest trial number."""
    done = [r for r in records if r["state"] == "COMPLETE" and r["value"] is not None]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    return min(done, key=lambda r: (sign * r["value"], r["number"]))


def run_search(
    kind: str,
    config: SearchConfig,
    objective: Callable[..., float],
    *,
    direction: str,
    n_rows: int | None = None,
    stepwise: Callable[[dict[str, Any]], Iterator[float]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a random, Optuna or halving-grid search and return the best params and every trial.

    Parameters
    ----------
    kind : {"random", "optuna", "grid"}
        The estimator's ``search`` (``grid`` only with ``config.halving``).
    config : SearchConfig
        Fixed params, space or grid, trial budget, seed, halving and pruning settings.
    objective : callable
        Takes a full parameter dict (fixed params and a sampled point), returns the primary
        metric on the validation split; may raise (the trial is then ``FAIL``). With halving it
        also takes ``n_rows=``: fit on that many search training rows (None: all of them).
    direction : {"minimize", "maximize"}
        The primary metric's direction.
    n_rows : int or None, default=None
        Number of search training rows (needed with halving).
    stepwise : callable or None, default=None
        Needed with ``config.pruning``: takes a full parameter dict and yields the primary metric
        on the validation split after each training epoch.

    Returns
    -------
    best_params : dict
        The fixed params merged with the best trial's point.
    trials : list of dict
        One record per trial, in trial order: ``number``, ``params`` (the sampled point),
        ``value`` (None when it failed), ``state`` (``COMPLETE``/``FAIL``, ``PRUNED`` when halving
        eliminated it or Optuna pruned it; its value is then the last one it reached), ``seconds``,
        ``error`` for failed trials, ``rows``/``rounds`` with halving, ``epochs`` with pruning.

    Raises
    ------
    SearchError
        When every trial failed (with the first trial's error and every trial's record).
    """

    def full(point: dict[str, Any], **kwargs: Any) -> float:
        return objective({**config.fixed, **point}, **kwargs)

    if kind == "grid" and config.halving is None:
        raise ValueError("search 'grid' is a search run only with halving")
    if kind in ("random", "grid"):
        if kind == "grid":
            points = grid_points(config.grid or {})
        else:
            points = sample_random(config.space, trials=config.trials, seed=config.seed)
        if config.halving is None:
            records = [record(i, point, timed(full, point)) for i, point in enumerate(points)]
        elif n_rows is None:
            raise ValueError("successive halving needs n_rows, the number of search training rows")
        else:
            records = _halving_trials(
                points, full, factor=int(config.halving["factor"]), min_rows=int(config.halving["min_rows"]),
                n_rows=n_rows, direction=direction,
            )  # fmt: skip
    elif kind == "optuna":
        from dbt_sweep.training.search.optuna_trials import (
            optuna_trials,  # imports Optuna: only for Optuna searches
        )

        def steps(point: dict[str, Any]) -> Iterator[float]:
            assert stepwise is not None
            return stepwise({**config.fixed, **point})

        records = optuna_trials(
            config.space, full, trials=config.trials, seed=config.seed, direction=direction,
            pruning=config.pruning, stepwise=steps if stepwise is not None else None,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown search {kind!r}; expected 'random', 'optuna' or 'grid'")
    best = best_trial(records, direction=direction)
    if best is None:
        first = records[0].get("error") if records else "no trials ran"
        raise SearchError(
            f"all {len(records)} trials of the {kind} search failed; first error: {first}", records
        )
    return {**config.fixed, **best["params"]}, records
