"""Search trials in MLflow (issue #8: each trial "appears in MLflow per the tracking level").

A search run's trials (``sweep_runs.trials``, a JSON array of ``number``, ``params``, ``value``,
``state``, ``seconds``) become, cheaply and browsably:

- ``level: runs``: on the search run's child run, the metric history ``trial_value`` (one point per
  trial that has a value, ``step`` = trial number: the UI's metric chart plots the search) plus
  ``n_trials``, and the table artifact ``trials.json`` (one row per trial, tagged as a table as
  ``MlflowClient.log_table`` tags it, so the UI's artifact view shows it as one);
- ``level: groups``: the table of every search run of the group on the group run, and the
  winner's ``trial_value`` history when the winner is a search run;
- ``level: sweep``: the table of every search run of the sweep on the parent run.

Pure functions, no MLflow import: :mod:`dbt_sweep.tracking.child_runs`, :mod:`~dbt_sweep.tracking.groups`
and :mod:`~dbt_sweep.tracking.finish` put them in their runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from dbt_sweep.training.frame import records

__all__ = [
    "TRIALS_TABLE",
    "runs_trials_table",
    "table_tag",
    "trial_history",
    "trial_records",
    "trials_table",
]

TRIALS_TABLE = "trials.json"
TRIAL_METRIC = "trial_value"
_LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"  # the tag MlflowClient.log_table sets
_FIRST = ["number", "state", "value", "seconds"]


def trial_records(trials: Any) -> list[dict[str, Any]]:
    """The records of a ``trials`` cell: a JSON array for search runs, null for grid runs.

    Parameters
    ----------
    trials : str or None
        A ``sweep_runs.trials`` cell (None or NaN when read through pandas).

    Returns
    -------
    list of dict
        One record per trial; empty for a grid run.

    Examples
    --------
    >>> trial_records('[{"number": 0, "value": 0.5}]'), trial_records(None), trial_records(float("nan"))
    ([{'number': 0, 'value': 0.5}], [], [])
    """
    if trials is None or (isinstance(trials, float) and math.isnan(trials)) or trials == "":
        return []
    return list(json.loads(trials))


def trial_history(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, int]]:
    """``(trial_value, value, trial number)`` per trial with a finite value, in trial order.

    Parameters
    ----------
    records : sequence of mapping
        :func:`trial_records`' output.

    Returns
    -------
    list of tuple of (str, float, int)
        Metric points ``(key, value, step)``: the run's ``trial_value`` history.

    Examples
    --------
    >>> trial_history([{"number": 0, "value": 0.5}, {"number": 1, "value": None, "state": "FAIL"},
    ...     {"number": 2, "value": 0.25}])
    [('trial_value', 0.5, 0), ('trial_value', 0.25, 2)]
    """
    out = []
    for record in records:
        value = record.get("value")
        if value is not None and math.isfinite(float(value)):
            out.append((TRIAL_METRIC, float(value), int(record["number"])))
    return out


def trials_table(records: Iterable[Mapping[str, Any]], **columns: Any) -> str:
    """The trials as a table in ``MlflowClient.log_table``'s JSON (pandas ``orient="split"``).

    One row per trial: ``columns`` first (e.g. ``run_key``, constant over ``records``), then
    ``number``, ``state``, ``value``, ``seconds``, one ``param.<name>`` column per searched
    parameter, and whatever else the records carry (``error``, ``rows``, ``rounds``).

    Parameters
    ----------
    records : iterable of mapping
        :func:`trial_records`' output.
    **columns
        Constant columns to put first.

    Returns
    -------
    str
        The table as JSON.

    Examples
    --------
    >>> print(trials_table([{"number": 0, "params": {"alpha": 0.1}, "value": 0.5, "state": "COMPLETE",
    ...     "seconds": 0.01}], run_key="k1"))
    {"columns":["run_key","number","state","value","seconds","param.alpha"],"data":[["k1",0,"COMPLETE",0.5,0.01,0.1]]}
    """
    return _frame(records, columns).to_json(orient="split", index=False, date_format="iso")


def _frame(records: Iterable[Mapping[str, Any]], columns: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for record in records:
        row = {**columns, **{k: record.get(k) for k in _FIRST}}
        row.update({f"param.{k}": _cell(v) for k, v in (record.get("params") or {}).items()})
        row.update({k: _cell(v) for k, v in record.items() if k not in (*_FIRST, "params")})
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(value: Any) -> Any:
    """Nested values (lists, dicts) as JSON text: a table cell holds a scalar."""
    return json.dumps(value, default=str) if isinstance(value, (list, dict)) else value


def table_tag(names: Iterable[str]) -> dict[str, str]:
    """The tag that marks artifacts as tables, as ``MlflowClient.log_table`` sets it.

    Parameters
    ----------
    names : iterable of str
        The table artifacts' paths.

    Returns
    -------
    dict of str to str
        The tag, or no tag without names.

    Examples
    --------
    >>> table_tag(["trials.json"])
    {'mlflow.loggedArtifacts': '[{"path": "trials.json", "type": "table"}]'}
    """
    entries = [{"path": name, "type": "table"} for name in names]
    return {_LOGGED_ARTIFACTS: json.dumps(entries)} if entries else {}


def runs_trials_table(runs: pd.DataFrame, columns: Sequence[str]) -> str | None:
    """One table of the trials of every search run in ``runs``.

    Parameters
    ----------
    runs : DataFrame
        Result rows, with ``trials``.
    columns : sequence of str
        The columns that identify each trial's run (e.g. the group columns, ``run_key``,
        ``estimator_name``), put first.

    Returns
    -------
    str or None
        The table as JSON (:func:`trials_table`'s format); None without search runs.

    Examples
    --------
    >>> runs = pd.DataFrame({"run_key": ["k1", "k2"], "trials": ['[{"number": 0, "value": 0.5}]', None]})
    >>> print(runs_trials_table(runs, ["run_key"]))
    {"columns":["run_key","number","state","value","seconds"],"data":[["k1",0,null,0.5,null]]}
    """
    if "trials" not in runs:
        return None
    frames = []
    for row in records(runs):
        trials = trial_records(row.get("trials"))
        if trials:
            frames.append(_frame(trials, {c: row[c] for c in columns}))
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True).to_json(
        orient="split", index=False, date_format="iso"
    )
