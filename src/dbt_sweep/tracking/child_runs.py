"""Child runs: one MLflow run per training run (``level: runs``), reused across unchanged builds.

:func:`child_run_payload` turns a result row into a run's name, tags, params and metrics (pure);
:func:`log_child_runs` writes a unit's new ones in bulk (:mod:`dbt_sweep.tracking.store`) and reuses
the FINISHED runs of earlier builds with the same identity. No Spark import: this module runs in
Spark's Python workers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from dbt_sweep.tracking.context import TRAINED_WITH_TAG, TrackingContext
from dbt_sweep.tracking.store import write_runs
from dbt_sweep.tracking.trials import (
    TRIALS_TABLE,
    table_tag,
    trial_history,
    trial_records,
    trials_table,
)
from dbt_sweep.training.frame import records

__all__ = ["child_run_payload", "log_child_runs"]

# MLflow's limit on a tag value is 8000 chars (mlflow/utils/validation.py); a traceback's head is enough
_MAX_TAG = 5000
_TIMINGS = ("n_train", "n_test", "fit_seconds", "score_seconds")


def _plain(value: Any) -> Any:
    """A Python scalar from a pandas/numpy cell; None for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def child_run_payload(row: Mapping[str, Any], ctx: TrackingContext) -> dict[str, Any]:
    """The name, tags, params and metrics of one training run's child run (pure).

    Parameters
    ----------
    row : mapping
        One ``train_unit`` output row plus its manifest ``data_fingerprint``.
    ctx : TrackingContext
        The parent run, group and metric columns, and the tags every child run gets.

    Returns
    -------
    dict
        ``name``, ``tags``, ``params``, ``metrics`` (NaN/None metrics are left out), ``history``
        (``(key, value, step)`` metric points: a search run's ``trial_value`` per trial) and
        ``tables`` (artifact name -> JSON table: a search run's ``trials.json``).

    Examples
    --------
    >>> ctx = TrackingContext("sqlite:///m.db", "1", "e", "/a", "p", "runs", "best", False, "fail",
    ...     ["g"], ["rmse"])
    >>> row = {"run_key": "k1", "g": "a", "estimator_name": "ridge", "estimator": "sklearn.linear_model.Ridge",
    ...     "params": '{"alpha": 0.1}', "status": "ok", "error": None, "rmse": 0.5, "n_train": 8,
    ...     "data_fingerprint": "f1"}
    >>> p = child_run_payload(row, ctx)
    >>> p["name"], p["params"], p["metrics"]
    ('ridge-a-k1', {'alpha': '0.1'}, {'rmse': 0.5, 'n_train': 8.0})
    >>> p["tags"]["run_key"], p["tags"]["group.g"], p["tags"]["mlflow.parentRunId"]
    ('k1', 'a', 'p')
    """
    groups = {col: _plain(row.get(col)) for col in ctx.group_by}
    params = json.loads(row["params"]) if row.get("params") else {}
    metrics = {}
    for name in [*ctx.metrics, *_TIMINGS]:
        value = _plain(row.get(name))
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            metrics[name] = float(value)
    tags = {
        **ctx.common_tags,
        "mlflow.parentRunId": ctx.parent_run_id,
        "run_key": str(row["run_key"]),
        "data_fingerprint": str(row.get("data_fingerprint") or ""),
        "estimator": str(row["estimator"]),
        "estimator_name": str(row["estimator_name"]),
        "status": str(row["status"]),
        TRAINED_WITH_TAG: ctx.trained_with,
        **{f"group.{col}": str(value) for col, value in groups.items()},
    }
    if row.get("error"):
        tags["error"] = str(row["error"])[:_MAX_TAG]
    trials = trial_records(row.get("trials"))
    tables = {TRIALS_TABLE: trials_table(trials, run_key=str(row["run_key"]))} if trials else {}
    if trials:
        metrics["n_trials"] = float(len(trials))
        tags.update(table_tag(tables))
    name = "-".join(
        [str(row["estimator_name"]), *map(str, groups.values()), str(row["run_key"])[:8]]
    )
    return {
        "name": name,
        "tags": tags,
        "params": {
            str(k): json.dumps(v) if not isinstance(v, str) else v for k, v in params.items()
        },
        "metrics": metrics,
        "history": trial_history(trials),
        "tables": tables,
    }


def log_child_runs(
    result: pd.DataFrame, fingerprints: Sequence[str], ctx: TrackingContext
) -> list[str]:
    """Log one unit's training runs as child runs; reuse FINISHED runs of unchanged runs.

    Parameters
    ----------
    result : DataFrame
        ``train_unit``'s output for the unit.
    fingerprints : sequence of str
        ``data_fingerprint`` of each row of ``result`` (from the manifest, same order).
    ctx : TrackingContext
        The experiment, parent run and earlier builds' runs (:attr:`TrackingContext.existing`).

    Returns
    -------
    list of str
        The MLflow run id of each row, in order.
    """
    rows = records(result.assign(data_fingerprint=list(fingerprints)))
    ids: list[str | None] = []
    new: list[tuple[int, dict[str, Any]]] = []
    for i, row in enumerate(rows):
        known = ctx.earlier_run(row["run_key"], row["data_fingerprint"], str(row["status"]))
        ids.append(known[0] if known else None)
        if not known:
            new.append((i, child_run_payload(row, ctx)))
    for (i, _), run_id in zip(new, write_runs(ctx, [payload for _, payload in new]), strict=True):
        ids[i] = run_id
    return [str(run_id) for run_id in ids]
