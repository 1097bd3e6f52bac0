"""Group runs (``level: groups``): one child run per group, with its winner's params and metrics.

Written by the driver after training, since a group's runs may be spread over several work units.
A group run stands for the set of its runs' keys on the group's data, so an unchanged group reuses
the run an earlier build logged, as a child run does. Issue #8: a group run holds the group's
search trials as one table, and the winner's trials as its metric history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from dbt_sweep.spec import SweepSpec, canonical_hash
from dbt_sweep.tracking.context import TRAINED_WITH_TAG, TrackingContext
from dbt_sweep.tracking.model_choice import group_key
from dbt_sweep.tracking.store import write_runs
from dbt_sweep.tracking.trials import (
    TRIALS_TABLE,
    runs_trials_table,
    table_tag,
    trial_history,
    trial_records,
)

__all__ = ["log_group_runs"]


def log_group_runs(
    ctx: TrackingContext, runs: pd.DataFrame, best: pd.DataFrame, spec: SweepSpec
) -> dict[tuple[Any, ...], str]:
    """Log one child run per group of ``runs``; reuse the runs of unchanged groups.

    Parameters
    ----------
    ctx : TrackingContext
        The experiment, parent run and earlier builds' runs.
    runs : DataFrame
        Every row of the sweep's results, with ``data_fingerprint``.
    best : DataFrame
        The winner of each group (:func:`dbt_sweep.training.selection.best_runs`).
    spec : SweepSpec
        The group columns.

    Returns
    -------
    dict
        Group key -> group run id.
    """
    best_by_group = {group_key(r, spec.group_by): r for r in best.to_dict("records")}
    ids: dict[tuple[Any, ...], str] = {}
    payloads, keys = [], []
    for key, frame in runs.groupby(spec.group_by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        run_key = canonical_hash(sorted(frame["run_key"]))
        fingerprint = str(frame["data_fingerprint"].iloc[0]) if "data_fingerprint" in frame else ""
        status = "ok" if key in best_by_group else "failed"  # as _group_payload tags it
        known = ctx.earlier_run(run_key, fingerprint, status)
        if known:
            ids[key] = known[0]
            continue
        win = best_by_group.get(key)
        payloads.append(
            _group_payload(ctx, key, frame, win, spec, run_key=run_key, fingerprint=fingerprint)
        )
        keys.append(key)
    ids.update(zip(keys, write_runs(ctx, payloads), strict=True))
    return ids


def _group_payload(
    ctx: TrackingContext,
    key: tuple[Any, ...],
    frame: pd.DataFrame,
    win: Mapping[str, Any] | None,
    spec: SweepSpec,
    *,
    run_key: str,
    fingerprint: str,
) -> dict[str, Any]:
    """The name, tags, params, metrics, trial history and trials table of one group's run."""
    counts = frame["status"].value_counts()
    tags = {
        **ctx.common_tags,
        "mlflow.parentRunId": ctx.parent_run_id,
        "run_key": run_key,
        "data_fingerprint": fingerprint,
        "status": "ok" if win is not None else "failed",
        TRAINED_WITH_TAG: ctx.trained_with,
        **{f"group.{c}": str(v) for c, v in zip(spec.group_by, key, strict=True)},
    }
    metrics = {f"n_{s}": float(counts.get(s, 0)) for s in ("ok", "failed", "skipped")}
    params: dict[str, str] = {}
    if win is not None:
        tags.update(winner_run_key=str(win["run_key"]), estimator=str(win["estimator"]),
                    estimator_name=str(win["estimator_name"]))  # fmt: skip
        params = {
            k: v if isinstance(v, str) else json.dumps(v)
            for k, v in json.loads(win["params"]).items()
        }
        metrics.update({m: float(win[m]) for m in ctx.metrics if pd.notna(win.get(m))})
    # issue #8: the group's trials as one table, the winner's as its metric history
    table = runs_trials_table(frame, ["run_key", "estimator_name"])
    tables = {TRIALS_TABLE: table} if table else {}
    tags.update(table_tag(tables))
    history = trial_history(trial_records(win.get("trials"))) if win is not None else []
    return {"name": "-".join(["group", *map(str, key)]), "tags": tags, "params": params,
            "metrics": metrics, "history": history, "tables": tables}  # fmt: skip
