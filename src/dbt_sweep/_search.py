"""Hyperparameter search beyond grids: ``search: random`` and ``search: optuna``.

A search run is one manifest row per (group, estimator) whose ``params`` carry the fixed
parameters plus ``space``, ``trials`` and ``seed``. Training (``dbt_sweep.train``) carves a
validation split out of the training rows, calls :func:`run_search` with an objective that fits
on the rest of the training rows and scores the primary metric on the validation rows, then refits
the best configuration on the whole training split and scores it on the test split like a grid run.

Pure Python and numpy (Optuna imported lazily): no Spark here.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from dbt_sweep.spec import SEARCH_KEYS

__all__ = [
    "SearchConfig",
    "SearchError",
    "best_trial",
    "decode",
    "run_search",
    "sample_random",
    "validation_split",
]

Objective = Callable[[dict[str, Any]], float]
_PRIMITIVE = (str, int, float, bool, type(None))


class SearchError(RuntimeError):
    """Raised when every trial of a search failed; ``records`` keeps the trials for the run's output."""

    def __init__(self, message: str, records: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.records = records


@dataclass(frozen=True)
class SearchConfig:
    """A search run's configuration, decoded from its manifest ``params``."""

    fixed: dict[str, Any]
    space: dict[str, dict[str, Any]]
    trials: int
    seed: int
    halving: dict[str, int] | None = None


def decode(params: Mapping[str, Any]) -> SearchConfig:
    """Split a search run's manifest ``params`` into fixed params and the search settings."""
    fixed = {k: v for k, v in params.items() if k not in SEARCH_KEYS}
    halving = params.get("halving")
    return SearchConfig(
        fixed, dict(params["space"]), int(params["trials"]), int(params["seed"]), halving
    )


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


def _timed(
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


def _record(
    number: int, params: dict[str, Any], result: tuple[float | None, str, float, str | None]
) -> dict[str, Any]:
    value, state, seconds, error = result
    row = {"number": number, "params": params, "value": value, "state": state, "seconds": seconds}
    return {**row, "error": error[:500]} if error else row


def _optuna_trials(
    space: Mapping[str, Mapping[str, Any]],
    objective: Objective,
    *,
    trials: int,
    seed: int,
    direction: str,
) -> list[dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per trial otherwise
    logging.getLogger("optuna").setLevel(logging.WARNING)
    records: list[dict[str, Any]] = []

    def suggest(trial: Any) -> dict[str, Any]:
        point: dict[str, Any] = {}
        for name in sorted(space):
            dim = space[name]
            if "choice" in dim:
                choices = dim["choice"]
                if all(isinstance(c, _PRIMITIVE) for c in choices):
                    point[name] = trial.suggest_categorical(name, choices)
                else:  # Optuna only stores primitives: suggest the JSON text
                    text = trial.suggest_categorical(
                        name, [json.dumps(c, sort_keys=True) for c in choices]
                    )
                    point[name] = json.loads(text)
            elif "int" in dim:
                point[name] = trial.suggest_int(
                    name, dim["int"][0], dim["int"][1], log=bool(dim.get("log"))
                )
            else:
                point[name] = trial.suggest_float(
                    name, dim["float"][0], dim["float"][1], log=bool(dim.get("log"))
                )
        return point

    def study_objective(trial: Any) -> float:
        params = suggest(trial)
        result = _timed(objective, params)
        records.append(_record(trial.number, params, result))
        if result[0] is None:
            raise optuna.TrialPruned()  # recorded as FAIL above; Optuna just skips it
        return result[0]

    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(study_objective, n_trials=trials, gc_after_trial=False, show_progress_bar=False)
    return records


def _halving_trials(
    points: list[dict[str, Any]],
    objective: Callable[..., float],
    *,
    factor: int,
    min_rows: int,
    n_rows: int,
    direction: str,
) -> list[dict[str, Any]]:
    """Successive halving over ``points``: rounds on ``min_rows``, ``min_rows * factor``, ... rows.

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
            value, state, seconds, error = _timed(
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
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a random or Optuna search and return the best params and every trial.

    Parameters
    ----------
    kind : {"random", "optuna"}
        The estimator's ``search``.
    config : SearchConfig
        Fixed params, space, trial budget and seed.
    objective : callable
        Takes a full parameter dict (fixed params and a sampled point), returns the primary
        metric on the validation split; may raise (the trial is then ``FAIL``). With halving it
        also takes ``n_rows=``: fit on that many search training rows (None: all of them).
    direction : {"minimize", "maximize"}
        The primary metric's direction.
    n_rows : int or None, default=None
        Number of search training rows (needed with halving).

    Returns
    -------
    best_params : dict
        The fixed params merged with the best trial's point.
    trials : list of dict
        One record per trial, in trial order: ``number``, ``params`` (the sampled point),
        ``value`` (None when it failed), ``state`` (``COMPLETE``/``FAIL``, ``PRUNED`` when halving
        eliminated it), ``seconds``, ``error`` for failed trials, and ``rows``/``rounds`` with halving.

    Raises
    ------
    SearchError
        When every trial failed (with the first trial's error and every trial's record).
    """

    def full(point: dict[str, Any], **kwargs: Any) -> float:
        return objective({**config.fixed, **point}, **kwargs)

    if kind == "random" and config.halving is not None:
        if n_rows is None:
            raise ValueError("successive halving needs n_rows, the number of search training rows")
        points = sample_random(config.space, trials=config.trials, seed=config.seed)
        records = _halving_trials(
            points, full, factor=int(config.halving["factor"]), min_rows=int(config.halving["min_rows"]),
            n_rows=n_rows, direction=direction,
        )  # fmt: skip
    elif kind == "random":
        points = sample_random(config.space, trials=config.trials, seed=config.seed)
        records = [_record(i, point, _timed(full, point)) for i, point in enumerate(points)]
    elif kind == "optuna":
        records = _optuna_trials(
            config.space, full, trials=config.trials, seed=config.seed, direction=direction
        )
    else:
        raise ValueError(f"unknown search {kind!r}; expected 'random' or 'optuna'")
    best = best_trial(records, direction=direction)
    if best is None:
        first = records[0].get("error") if records else "no trials ran"
        raise SearchError(
            f"all {len(records)} trials of the {kind} search failed; first error: {first}", records
        )
    return {**config.fixed, **best["params"]}, records
