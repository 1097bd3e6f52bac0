"""Undo what a retried Spark task logged twice, on the driver, once training is done.

Spark reruns a task whose worker died (issue #7's fault) or races a speculative copy of a slow
one. Workers log as they go (each unit's child runs, and models when a unit is a whole group), so
a unit that an earlier attempt had already logged is logged again, while ``sweep_runs`` keeps ONE
attempt's rows and run ids. Deterministic run ids with insert-if-absent would keep the FIRST
attempt's runs, whose metrics differ from the table's when training is not deterministic (an
estimator without ``random_state``); deleting what the table does not reference keeps the runs
the table points at, costs one query per build, and works the same on every store. Deleting is
MLflow's soft delete (``mlflow gc`` purges).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dbt_sweep.log import get_logger
from dbt_sweep.tracking.context import TrackingContext

__all__ = ["delete_retried_attempts"]

_logger = get_logger()


def delete_retried_attempts(
    mlflow_client: Any, ctx: TrackingContext, runs: pd.DataFrame
) -> list[str]:
    """Delete the child runs or models a retried task attempt left behind; return their ids.

    Parameters
    ----------
    mlflow_client : mlflow.MlflowClient
    ctx : TrackingContext
    runs : DataFrame
        Every row of the sweep's results, with ``mlflow_run_id``.

    Returns
    -------
    list of str
        The deleted child runs (``level: runs``) or models (``level: sweep``, models logged by
        workers on the parent run); empty at ``level: groups``, whose runs the driver writes.
    """
    if ctx.level == "runs":
        return _delete_unreferenced_children(mlflow_client, ctx, runs)
    if ctx.level == "sweep" and ctx.models_on_workers:
        return _delete_duplicate_parent_models(mlflow_client, ctx)
    return []


def _delete_unreferenced_children(
    mlflow_client: Any, ctx: TrackingContext, runs: pd.DataFrame
) -> list[str]:
    """This build's child runs that no row references go, with the models logged and registered
    from them: the experiment keeps exactly one child run per manifest row. One query finds them;
    child runs reused from earlier builds have another parent and are never touched."""
    referenced = set(runs["mlflow_run_id"].dropna())
    orphans = [run_id for run_id in _child_run_ids(mlflow_client, ctx) if run_id not in referenced]
    for run_id in orphans:
        _delete_models(mlflow_client, _logged_models(mlflow_client, ctx, run_id), run_id=run_id)
        mlflow_client.delete_run(run_id)
    if orphans:
        _logger.info(
            f"Deleted {len(orphans)} MLflow child run(s) of parent run {ctx.parent_run_id} that "
            "no row of the results references (logged by a Spark task attempt that was retried)."
        )
    return orphans


def _child_run_ids(mlflow_client: Any, ctx: TrackingContext) -> list[str]:
    """The ids of the parent run's active child runs. On a database store, one query of the run
    and tag tables: ``search_runs`` loads every run's params, metrics and tags, ~1 ms a run, a
    tenth of a child run's whole logging budget (issue #4). Elsewhere (a server), a paged search."""
    from mlflow.entities import LifecycleStage
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    store = mlflow_client._tracking_client.store
    if isinstance(store, SqlAlchemyStore):
        from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag

        with store.ManagedSessionMaker() as session:
            rows = (
                session.query(SqlRun.run_uuid)
                .join(SqlTag, SqlTag.run_uuid == SqlRun.run_uuid)
                .filter(
                    SqlRun.experiment_id == int(ctx.experiment_id),
                    SqlRun.lifecycle_stage == LifecycleStage.ACTIVE,
                    SqlTag.key == MLFLOW_PARENT_RUN_ID,
                    SqlTag.value == ctx.parent_run_id,
                )
                .all()
            )
        return [str(row[0]) for row in rows]
    ids: list[str] = []
    token = None
    while True:
        page = mlflow_client.search_runs(
            [ctx.experiment_id],
            filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{ctx.parent_run_id}'",
            max_results=5000,
            page_token=token,
        )
        ids += [run.info.run_id for run in page]
        token = page.token
        if not token:
            return ids


def _delete_duplicate_parent_models(mlflow_client: Any, ctx: TrackingContext) -> list[str]:
    """``level: sweep`` with models logged by workers: a retried task logged its units' winners on
    the parent run again. Keep the newest model of each name (the attempt Spark kept: a task is
    rerun only after its attempt died) and delete the others, with their registered versions."""
    models = _logged_models(mlflow_client, ctx, ctx.parent_run_id)
    by_name: dict[str, list[Any]] = {}
    for logged in models:
        by_name.setdefault(logged.name, []).append(logged)
    doomed = [
        logged
        for same in by_name.values()
        for logged in sorted(same, key=lambda m: (m.creation_timestamp, m.model_id))[:-1]
    ]
    _delete_models(mlflow_client, doomed, run_id=ctx.parent_run_id)
    if doomed:
        _logger.info(
            f"Deleted {len(doomed)} MLflow model(s) of parent run {ctx.parent_run_id} that a Spark "
            "task attempt logged before it was retried."
        )
    return [logged.model_id for logged in doomed]


def _logged_models(mlflow_client: Any, ctx: TrackingContext, run_id: str) -> list[Any]:
    """Every logged model of the experiment whose source is ``run_id`` (one paged search)."""
    out: list[Any] = []
    token = None
    while True:
        page = mlflow_client.search_logged_models(
            [ctx.experiment_id], filter_string=f"source_run_id = '{run_id}'", page_token=token
        )
        out += list(page)
        token = page.token
        if not token:
            return out


def _delete_models(mlflow_client: Any, models: list[Any], *, run_id: str) -> None:
    """Delete logged models of ``run_id`` and the registered versions made from them (a version
    names its model by id, or by artifact location: a database registry stores no id for a
    version registered from the location, as :mod:`dbt_sweep.tracking.logged_models` registers them)."""
    if not models:
        return
    ids = {logged.model_id for logged in models}
    locations = {logged.artifact_location for logged in models}
    for version in mlflow_client.search_model_versions(f"run_id = '{run_id}'"):
        if version.model_id in ids or version.source in locations:
            mlflow_client.delete_model_version(version.name, version.version)
    for model_id in ids:
        mlflow_client.delete_logged_model(model_id)
