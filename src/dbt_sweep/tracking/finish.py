"""Close a build's tracking on the driver: what needs every run of a group or of the sweep.

After training, :func:`finish_tracking` first deletes what a retried Spark task logged twice
(:mod:`dbt_sweep.tracking.retries`), then logs the group runs (``level: groups``,
:mod:`dbt_sweep.tracking.groups`), the models the workers could not log (the best run of a group
may be in any shard of the group, so only the driver sees all of them), and the parent run's
summary: run counts, the figure, the results table and, at ``level: sweep``, every trial. The
parent run ends FINISHED, or FAILED when any of this failed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dbt_sweep.spec import SweepSpec
from dbt_sweep.tracking.context import HAS_MODEL_TAG, TrackingContext
from dbt_sweep.tracking.errors import handle_error
from dbt_sweep.tracking.groups import log_group_runs
from dbt_sweep.tracking.logged_models import ModelToLog, log_sklearn_models
from dbt_sweep.tracking.model_choice import group_key, model_to_log, models_to_log
from dbt_sweep.tracking.retries import delete_retried_attempts
from dbt_sweep.tracking.store import client, set_tag
from dbt_sweep.tracking.trials import TRIALS_TABLE, runs_trials_table, table_tag
from dbt_sweep.training.selection import best_runs

__all__ = ["finish_tracking"]


def finish_tracking(
    ctx: TrackingContext,
    runs: pd.DataFrame,
    models: pd.DataFrame,
    examples: Mapping[tuple[Any, ...], pd.DataFrame],
    spec: SweepSpec,
    *,
    model: str,
) -> dict[tuple[Any, ...], str]:
    """Log what needs all runs, on the driver, and end the parent run.

    Parameters
    ----------
    ctx : TrackingContext
        The experiment and parent run :func:`~dbt_sweep.tracking.start_tracking` prepared.
    runs : DataFrame
        Every row of the sweep's results, without the ``model`` bytes, with ``data_fingerprint``
        and ``mlflow_run_id`` (filled at ``level: runs``).
    models : DataFrame
        ``run_key`` and ``model`` bytes of the runs whose model the driver logs (see
        :func:`~dbt_sweep.tracking.models_to_log`).
    examples : mapping of tuple to DataFrame
        Group key -> a few feature rows (input example and signature).
    spec : SweepSpec
        The validated spec (group columns, primary metric).
    model : str
        The dbt model's name, for messages.

    Returns
    -------
    dict
        Group key -> group run id (``level: groups``), else empty.

    Raises
    ------
    TrackingError
        Logging failed and ``on_error`` is ``fail``; the parent run is marked FAILED first.
    """
    try:
        return _finish(ctx, runs, models, examples, spec)
    except Exception as exc:
        try:
            client(ctx.uri).set_terminated(ctx.parent_run_id, "FAILED")
        except Exception:  # the store is what failed; the first error is the one to report
            pass
        handle_error(
            exc,
            uri=ctx.uri,
            action="logging the sweep's results",
            model=model,
            on_error=ctx.on_error,
            then="Continuing without tracking (sweep.tracking.on_error: warn).",
        )
        return {}


def _finish(
    ctx: TrackingContext,
    runs: pd.DataFrame,
    models: pd.DataFrame,
    examples: Mapping[tuple[Any, ...], pd.DataFrame],
    spec: SweepSpec,
) -> dict[tuple[Any, ...], str]:
    """:func:`finish_tracking` without the error handling, in the order the steps depend on."""
    mlflow_client = client(ctx.uri)
    delete_retried_attempts(mlflow_client, ctx, runs)  # before anything reads the runs back
    best = best_runs(runs, spec.group_by, spec.primary_direction)
    group_ids = log_group_runs(ctx, runs, best, spec) if ctx.level == "groups" else {}
    _log_models(ctx, runs, models, examples, spec, best=best, group_ids=group_ids)
    _summarize_parent(ctx, runs, best, spec)
    mlflow_client.set_terminated(ctx.parent_run_id, "FINISHED")
    return group_ids


def _log_models(
    ctx: TrackingContext,
    runs: pd.DataFrame,
    models: pd.DataFrame,
    examples: Mapping[tuple[Any, ...], pd.DataFrame],
    spec: SweepSpec,
    *,
    best: pd.DataFrame,
    group_ids: Mapping[tuple[Any, ...], str],
) -> None:
    """The models the workers did not log (:func:`~.model_choice.models_to_log`), in one call."""
    blobs = dict(zip(models["run_key"], models["model"], strict=True))
    best_keys = set(best["run_key"])
    to_log: list[ModelToLog] = []
    for row in models_to_log(ctx, runs, spec).to_dict("records"):
        if row["run_key"] not in blobs:
            continue
        key = group_key(row, spec.group_by)
        example = examples.get(key)
        if example is None:  # e.g. a null group key, which the example query cannot match
            example = next(iter(examples.values()))
        group_run_id = group_ids[key] if ctx.level == "groups" else None
        chosen = model_to_log(
            ctx, row, blob=blobs[row["run_key"]], example=example,
            winner=row["run_key"] in best_keys, group_run_id=group_run_id,
        )  # fmt: skip
        if chosen is not None:
            to_log.append(chosen)
    log_sklearn_models(
        client(ctx.uri),
        to_log,
        experiment_id=ctx.experiment_id,
        artifact_location=ctx.artifact_location,
    )
    if ctx.level == "runs":
        set_tag(ctx, [m.run_id for m in to_log], HAS_MODEL_TAG, "true")


def _summarize_parent(
    ctx: TrackingContext, runs: pd.DataFrame, best: pd.DataFrame, spec: SweepSpec
) -> None:
    """The parent run's run counts, figure, results table and, at ``level: sweep``, trials."""
    from mlflow.entities import Metric

    from dbt_sweep.tracking.figure import metric_figure  # matplotlib: paid only when finishing

    mlflow_client = client(ctx.uri)
    counts = runs["status"].value_counts()
    mlflow_client.log_batch(
        ctx.parent_run_id,
        metrics=[
            Metric(f"n_{s}", float(counts.get(s, 0)), 0, 0) for s in ("ok", "failed", "skipped")
        ],
    )
    figure = metric_figure(runs, best, spec)
    mlflow_client.log_figure(ctx.parent_run_id, figure, "primary_metric_by_group.png")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep_runs.csv"
        runs.to_csv(path, index=False)
        mlflow_client.log_artifact(ctx.parent_run_id, str(path))
    trials = (
        runs_trials_table(runs, [*spec.group_by, "run_key", "estimator_name"])
        if ctx.level == "sweep"
        else None
    )
    if trials:  # issue #8: at level sweep the parent run holds every trial, as one table
        mlflow_client.log_text(ctx.parent_run_id, trials, TRIALS_TABLE)
        mlflow_client.set_tag(ctx.parent_run_id, *next(iter(table_tag([TRIALS_TABLE]).items())))
