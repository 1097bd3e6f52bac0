"""Search strategies: ``search: random``, ``search: optuna``, and grids with successive halving.

A search run is one manifest row per (group, estimator) whose ``params`` carry the fixed
parameters plus the search settings (:data:`dbt_sweep.spec.SEARCH_KEYS`: ``space``, ``trials``,
``seed``, ``halving``, ``pruning``, or a ``grid`` with ``halving``). :func:`run_search` draws the
configurations, runs their trials through the objective it is given and returns the winner;
:mod:`~dbt_sweep.training.search.fit` supplies that objective (fit on the training rows minus a
validation split, score the primary metric on the validation rows). Pure Python and numpy:
Optuna is imported lazily, in :mod:`~dbt_sweep.training.search.optuna_trials`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from dbt_sweep.spec.search import SearchConfig, grid_points
from dbt_sweep.training.search.trials import (
    MAX_TRIAL_ERROR,
    Objective,
    SearchError,
    Stepwise,
    best_trial,
    record,
    timed,
)

__all__ = ["halving_trials", "run_search", "sample_random", "search_trials"]


def python_scalar(value: Any) -> Any:
    """Return a numpy scalar as the Python value it holds (trial params go into JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def sample_random(
    space: Mapping[str, Mapping[str, Any]], *, trials: int, seed: int
) -> list[dict[str, Any]]:
    """Draw ``trials`` configurations from ``space`` with ``numpy.random.default_rng(seed)``.

    Parameters are drawn in sorted name order, so the draws depend only on the space and the seed.
    ``choice`` picks uniformly; ``int``/``float`` draw uniformly on ``[low, high]``, or uniformly in
    log space with ``log: true``.

    Parameters
    ----------
    space : mapping
        Parameter name -> dimension (``choice``, ``int`` or ``float``, optional ``log``).
    trials : int
        Number of configurations.
    seed : int
        Seed of the generator.

    Returns
    -------
    list of dict
        The configurations, with Python (not numpy) values.

    Examples
    --------
    >>> sample_random({"k": {"int": [1, 3]}, "kind": {"choice": ["a", "b"]}}, trials=2, seed=0)
    [{'k': 3, 'kind': 'b'}, {'k': 2, 'kind': 'a'}]
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
        out.append({k: python_scalar(v) for k, v in point.items()})
    return out


def halving_trials(
    points: list[dict[str, Any]],
    objective: Objective,
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

    Parameters
    ----------
    points : list of dict
        The configurations.
    objective : callable
        ``objective(point, n_rows=...)``; ``n_rows=None`` means every search training row.
    factor : int
        Each round keeps ``1 / factor`` of the configurations and multiplies the rows by it.
    min_rows : int
        Training rows of the first round.
    n_rows : int
        Number of search training rows.
    direction : {"minimize", "maximize"}
        The primary metric's direction.

    Returns
    -------
    list of dict
        One record per point, in point order.
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
            trial = records[i]
            trial.update(
                value=value, state=state, rows=n_rows if last else rows, rounds=trial["rounds"] + 1
            )
            trial["seconds"] += seconds
            if error:
                trial["error"] = error[:MAX_TRIAL_ERROR]
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


def search_trials(
    kind: str,
    config: SearchConfig,
    objective: Objective,
    *,
    direction: str,
    n_rows: int | None = None,
    stepwise: Stepwise | None = None,
) -> list[dict[str, Any]]:
    """Run every trial of a random, Optuna or halving-grid search; return their records.

    Takes the arguments of :func:`run_search` and returns its ``trials``; picks no winner.
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
            return [record(i, point, timed(full, point)) for i, point in enumerate(points)]
        if n_rows is None:
            raise ValueError("successive halving needs n_rows, the number of search training rows")
        return halving_trials(
            points, full, factor=int(config.halving["factor"]), min_rows=int(config.halving["min_rows"]),
            n_rows=n_rows, direction=direction,
        )  # fmt: skip
    if kind == "optuna":
        # Imported here so that a sweep without Optuna searches never imports Optuna.
        from dbt_sweep.training.search.optuna_trials import optuna_trials

        def steps(point: dict[str, Any]) -> Iterator[float]:
            assert stepwise is not None
            return stepwise({**config.fixed, **point})

        return optuna_trials(
            config.space, full, trials=config.trials, seed=config.seed, direction=direction,
            pruning=config.pruning, stepwise=steps if stepwise is not None else None,
        )  # fmt: skip
    raise ValueError(f"unknown search {kind!r}; expected 'random', 'optuna' or 'grid'")


def run_search(
    kind: str,
    config: SearchConfig,
    objective: Objective,
    *,
    direction: str,
    n_rows: int | None = None,
    stepwise: Stepwise | None = None,
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

    Examples
    --------
    >>> from dbt_sweep.spec.search import decode
    >>> config = decode({"fit_intercept": True, "space": {"alpha": {"float": [0.0, 1.0]}},
    ...     "trials": 4, "seed": 0})
    >>> best, trials = run_search("random", config, lambda p: (p["alpha"] - 0.5) ** 2,
    ...     direction="minimize")
    >>> len(trials), sorted(best)
    (4, ['alpha', 'fit_intercept'])
    """
    records = search_trials(
        kind, config, objective, direction=direction, n_rows=n_rows, stepwise=stepwise
    )
    best = best_trial(records, direction=direction)
    if best is None:
        first = records[0].get("error") if records else "no trials ran"
        raise SearchError(
            f"all {len(records)} trials of the {kind} search failed; first error: {first}", records
        )
    return {**config.fixed, **best["params"]}, records
