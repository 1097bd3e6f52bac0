"""What a Spark worker logs for one work unit, while other units still train.

At ``level: runs`` the unit's child runs (:mod:`dbt_sweep.tracking.child_runs`), one transaction per
unit on a database store; then, when the unit alone can tell which models to log
(:attr:`~dbt_sweep.tracking.context.TrackingContext.models_on_workers`), its models
(:mod:`dbt_sweep.tracking.logged_models`). Logging here overlaps training instead of following it on
the driver. No Spark import: this module runs in Spark's Python workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dbt_sweep.tracking.child_runs import log_child_runs
from dbt_sweep.tracking.context import HAS_MODEL_TAG, MODEL_TAG, TrackingContext
from dbt_sweep.tracking.errors import handle_error
from dbt_sweep.tracking.logged_models import ModelToLog, log_sklearn_models
from dbt_sweep.tracking.model_choice import model_to_log, winner_keys
from dbt_sweep.tracking.store import client, set_tag
from dbt_sweep.training.frame import records

__all__ = ["log_unit_models", "track_unit"]


#: Parent runs whose store failed in this worker process (``on_error: warn``).
_GAVE_UP: set[str] = set()


def track_unit(
    result: pd.DataFrame,
    fingerprints: Sequence[str],
    examples: pd.DataFrame,
    ctx: TrackingContext,
) -> list[str | None]:
    """Worker side of tracking: the unit's child runs (``level: runs``) and, when
    :attr:`TrackingContext.models_on_workers`, its models, while other units still train.

    Parameters
    ----------
    result : DataFrame
        ``train_unit``'s output for the unit.
    fingerprints : sequence of str
        The manifest's ``data_fingerprint`` of each row.
    examples : DataFrame
        A few of the unit's feature rows (input example and signature of logged models).
    ctx : TrackingContext
        The experiment and parent run the driver prepared.

    Returns
    -------
    list of str or None
        The child run id of each row (all None at ``level: sweep``, where the driver fills in the
        parent run, and when logging failed with ``on_error: warn``).

    Raises
    ------
    TrackingError
        Logging failed and ``on_error`` is ``fail``.
    """
    if ctx.parent_run_id in _GAVE_UP:
        return [None] * len(result)
    try:
        ids: list[str | None] = [None] * len(result)
        if ctx.level == "runs":
            ids = list(log_child_runs(result, fingerprints, ctx))
        if ctx.models_on_workers:
            rows = result.assign(data_fingerprint=list(fingerprints), mlflow_run_id=ids)
            with_model = log_unit_models(client(ctx.uri), rows, examples, ctx)
            if ctx.level == "runs":
                set_tag(ctx, with_model, HAS_MODEL_TAG, "true")
    except Exception as exc:
        handle_error(
            exc,
            uri=ctx.uri,
            action="logging child runs on a Spark worker",
            model=ctx.common_tags.get(MODEL_TAG, "?"),
            on_error=ctx.on_error,
            then="Continuing without tracking in this worker for the rest of the build.",
        )
        # a store that failed once (a dead server) is not asked again by this worker: each call
        # would wait out its timeouts, unit after unit
        _GAVE_UP.add(ctx.parent_run_id)
        return [None] * len(result)
    return ids


def log_unit_models(
    mlflow_client: Any, rows: pd.DataFrame, example: pd.DataFrame, ctx: TrackingContext
) -> list[str]:
    """Log a unit's models from a Spark worker (:attr:`TrackingContext.models_on_workers`).

    ``log_models: all`` logs every ``ok`` run, ``best`` the winner of each group (the unit is the
    whole group). At ``level: runs`` a model goes into its child run, skipped when a reused run
    already has one; at ``level: sweep`` into the parent run. With ``register: true`` each winner
    becomes a version of its group's registered model (:func:`~.model_choice.model_to_log`).

    Parameters
    ----------
    mlflow_client : mlflow.MlflowClient
        A client of ``ctx.uri``.
    rows : DataFrame
        ``train_unit``'s output with ``data_fingerprint`` and ``mlflow_run_id`` (child runs).
    example : DataFrame
        A few of the unit's feature rows.
    ctx : TrackingContext
        The experiment, level, ``log_models`` and ``register``.

    Returns
    -------
    list of str
        The child runs that got a model (``level: runs``), else empty.
    """
    best = winner_keys(rows, ctx) if ctx.whole_groups else set()
    ok = rows[(rows["status"] == "ok") & rows["model"].notna()]
    wanted = ok if ctx.log_models == "all" else ok[ok["run_key"].isin(best)]
    models: list[ModelToLog] = []
    for row in records(wanted):
        chosen = model_to_log(
            ctx, row, blob=row["model"], example=example, winner=row["run_key"] in best
        )
        if chosen is not None:
            models.append(chosen)
    log_sklearn_models(
        mlflow_client,
        models,
        experiment_id=ctx.experiment_id,
        artifact_location=ctx.artifact_location,
    )
    return [m.run_id for m in models] if ctx.level == "runs" else []
