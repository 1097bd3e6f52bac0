"""Optuna studies for ``search: optuna``: TPE-sampled trials, optionally pruned epoch by epoch.

Imported lazily by :func:`dbt_sweep.training.search.core.run_search`, so a sweep without Optuna
searches never imports Optuna. Every study is seeded and named, so the same space, data and seed
give the same trials: the TPE sampler takes ``seed``, and Hyperband assigns trials to brackets by
hashing the study name with the trial number (a random study name would reshuffle them in every
build).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from dbt_sweep.training.search.trials import Objective, Stepwise, record, timed

__all__ = ["STUDY_NAME", "make_pruner", "optuna_trials"]

#: Fixed study name: HyperbandPruner's bracket of a trial is crc32(f"{study_name}_{number}").
STUDY_NAME = "dbt_sweep"
PRIMITIVE_TYPES = (str, int, float, bool, type(None))  # what Optuna stores as a choice


def make_pruner(pruning: Mapping[str, Any] | None) -> Any:
    """Build the Optuna pruner of a ``pruning`` spec (``NopPruner`` without one).

    ``warmup`` is the number of epochs every trial trains before it can be pruned: the median
    pruner's ``n_warmup_steps`` (steps are epochs, numbered from 1), and the ``min_resource``
    (at least 1) of the successive-halving and Hyperband pruners, whose ``max_resource`` is ``epochs``.
    """
    import optuna

    if pruning is None:
        return optuna.pruners.NopPruner()
    kind, epochs, warmup = pruning["pruner"], int(pruning["epochs"]), int(pruning["warmup"])
    if kind == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=warmup)
    if kind == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup))
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup), max_resource=epochs)
    raise ValueError(
        f"unknown pruner {kind!r}; expected 'median', 'hyperband' or 'successive_halving'"
    )


def suggest_point(trial: Any, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Ask ``trial`` for one point of ``space``, parameters in sorted name order (as random search draws)."""
    point: dict[str, Any] = {}
    for name in sorted(space):
        dim = space[name]
        if "choice" in dim:
            choices = dim["choice"]
            if all(isinstance(c, PRIMITIVE_TYPES) for c in choices):
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


def epochs_trial(trial: Any, point: dict[str, Any], stepwise: Stepwise) -> dict[str, Any]:
    """Train one trial epoch by epoch, report each value, stop when the pruner says so.

    The record's ``value`` is the last reported value (for a pruned trial, the value it was
    pruned at) and ``epochs`` the number of epochs it trained.
    """
    start = time.perf_counter()
    values: list[float] = []
    state, error = "COMPLETE", None
    try:
        for epoch, raw in enumerate(stepwise(point), start=1):
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(f"the metric is {value} after epoch {epoch}")
            values.append(value)
            trial.report(value, epoch)
            if trial.should_prune():
                state = "PRUNED"
                break
        if not values:
            raise ValueError("the trial trained no epoch")
    except Exception as exc:  # one bad configuration must not end the search
        state, error = "FAIL", f"{type(exc).__name__}: {exc}"
    value = values[-1] if values and state != "FAIL" else None
    out = record(trial.number, point, (value, state, time.perf_counter() - start, error))
    return {**out, "epochs": len(values)}


def optuna_trials(
    space: Mapping[str, Mapping[str, Any]],
    objective: Objective,
    *,
    trials: int,
    seed: int,
    direction: str,
    pruning: Mapping[str, Any] | None = None,
    stepwise: Stepwise | None = None,
) -> list[dict[str, Any]]:
    """Run a seeded TPE study of ``trials`` trials; return one record per trial, in trial order.

    Parameters
    ----------
    space : mapping
        Parameter name -> ``choice`` / ``int`` / ``float`` dimension (with optional ``log``).
    objective : callable
        ``objective(point) -> float``: one trial without pruning.
    trials : int
        Number of trials.
    seed : int
        Seed of the TPE sampler.
    direction : {"minimize", "maximize"}
        The primary metric's direction.
    pruning : mapping or None, default=None
        The ``pruning`` spec (``pruner``, ``epochs``, ``warmup``); see :func:`make_pruner`.
    stepwise : callable or None, default=None
        Needed with ``pruning``: ``stepwise(point)`` yields the validation metric after each
        epoch, and the study's pruner may stop the trial early (it is then ``PRUNED``).

    Returns
    -------
    list of dict
        Trial records (:func:`dbt_sweep.training.search.trials.record`), with ``epochs`` when pruned.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per trial otherwise
    logging.getLogger("optuna").setLevel(logging.WARNING)
    if pruning is not None and stepwise is None:
        raise ValueError(
            "pruning needs a stepwise objective that yields the metric after each epoch"
        )
    records: list[dict[str, Any]] = []

    def study_objective(trial: Any) -> float:
        point = suggest_point(trial, space)
        if stepwise is not None and pruning is not None:
            row = epochs_trial(trial, point, stepwise)
        else:
            row = record(trial.number, point, timed(objective, point))
        records.append(row)
        if row["state"] != "COMPLETE":  # FAIL is recorded above; to Optuna both are not complete
            raise optuna.TrialPruned()
        return float(row["value"])

    study = optuna.create_study(
        study_name=STUDY_NAME,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=make_pruner(pruning),
    )
    study.optimize(study_objective, n_trials=trials, gc_after_trial=False, show_progress_bar=False)
    return records
