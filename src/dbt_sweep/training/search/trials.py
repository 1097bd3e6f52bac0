"""Trials, whatever the search strategy: evaluate one, record it, pick the best, fail as a whole.

Random, halving and Optuna searches (:mod:`~dbt_sweep.training.search.core`,
:mod:`~dbt_sweep.training.search.optuna_trials`) all score a configuration with :func:`timed`,
keep it as a :func:`record` and choose with :func:`best_trial`, so every strategy writes the same
``trials`` JSON and breaks ties the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Objective", "SearchError", "Stepwise", "best_trial", "record", "timed"]

#: ``objective(params, **kwargs) -> float``: the primary metric of one configuration.
Objective = Callable[..., float]
#: ``stepwise(params)``: yields the primary metric after each training epoch (pruned searches).
Stepwise = Callable[[dict[str, Any]], Iterable[float]]
#: What :func:`timed` returns: (value, state, seconds, error).
Outcome = tuple[float | None, str, float, str | None]
MAX_TRIAL_ERROR = 500  # characters of a trial's error: the trials JSON holds one per trial


class SearchError(RuntimeError):
    """Raised when every trial of a search failed; ``records`` keeps the trials for the run's output.

    Parameters
    ----------
    message : str
        What failed, with the first trial's error.
    records : list of dict
        Every trial's record (see :func:`record`).
    """

    def __init__(self, message: str, records: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.records = records


def timed(objective: Objective, params: dict[str, Any], **kwargs: Any) -> Outcome:
    """Evaluate one configuration; never raises.

    Parameters
    ----------
    objective : callable
        Returns the metric of ``params``; may raise.
    params : dict
        The configuration.
    **kwargs
        Passed to ``objective`` (halving's ``n_rows``).

    Returns
    -------
    (value, state, seconds, error)
        ``COMPLETE`` with the value, or ``FAIL`` with None and the error when ``objective``
        raised or returned a non-finite metric.

    Examples
    --------
    >>> timed(lambda p: p["a"] * 2, {"a": 1.5})[:2]
    (3.0, 'COMPLETE')
    >>> timed(lambda p: 1 / 0, {})[3]
    'ZeroDivisionError: division by zero'
    """
    start = time.perf_counter()
    try:
        value = float(objective(params, **kwargs))
    except Exception as exc:  # one bad configuration must not end the search
        return None, "FAIL", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if not math.isfinite(value):
        return None, "FAIL", seconds, f"the metric is {value}"
    return value, "COMPLETE", seconds, None


def record(number: int, params: dict[str, Any], result: Outcome) -> dict[str, Any]:
    """Return one trial's record: ``number``, ``params``, ``value``, ``state``, ``seconds``, ``error`` if any.

    Examples
    --------
    >>> record(0, {"C": 1.0}, (0.5, "COMPLETE", 0.01, None))
    {'number': 0, 'params': {'C': 1.0}, 'value': 0.5, 'state': 'COMPLETE', 'seconds': 0.01}
    """
    value, state, seconds, error = result
    row = {"number": number, "params": params, "value": value, "state": state, "seconds": seconds}
    return {**row, "error": error[:MAX_TRIAL_ERROR]} if error else row


def best_trial(records: list[dict[str, Any]], *, direction: str) -> dict[str, Any] | None:
    """Return the best ``COMPLETE`` trial for ``direction``; ties go to the lowest trial number.

    Parameters
    ----------
    records : list of dict
        Trial records (see :func:`record`).
    direction : {"minimize", "maximize"}
        The primary metric's direction.

    Returns
    -------
    dict or None
        The winning record, or None when no trial completed.

    Examples
    --------
    >>> trials = [record(0, {}, (0.4, "COMPLETE", 0.0, None)), record(1, {}, (0.9, "COMPLETE", 0.0, None))]
    >>> best_trial(trials, direction="maximize")["number"]
    1
    """
    done = [r for r in records if r["state"] == "COMPLETE" and r["value"] is not None]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    return min(done, key=lambda r: (sign * r["value"], r["number"]))
