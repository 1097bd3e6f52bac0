"""The parent run: one experiment per sweep model, one parent run per dbt invocation, opened here.

Where each kind of logging happens, and why:

- **Driver, before training** (:func:`start_tracking`, this module): resolve the URI, check the
  server answers, create the store and the experiment (once, under a process lock: concurrent first
  use of a SQLite store corrupts it, concurrent ``set_experiment`` can land runs in "Default"),
  create the parent run and find the child runs of earlier builds with ONE search. Workers get only
  plain data (:class:`~dbt_sweep.tracking.context.TrackingContext`).
- **Workers, after each unit** (:mod:`dbt_sweep.tracking.unit`): the unit's child runs
  (``level: runs``), one transaction per unit on a database store, and the unit's models when it
  alone can tell which ones.
- **Driver, after training** (:mod:`dbt_sweep.tracking.finish`): what needs every run of a group or
  of the sweep: group runs (``level: groups``), the winner models (the best run of a group may be in
  any shard of the group, so only the driver sees all of them), the figure and the results table on
  the parent run. First, it deletes what a retried Spark task logged twice
  (:mod:`dbt_sweep.tracking.retries`): the experiment keeps one child run per row of the table.

Identity rule: a child run stands for ``run_key`` + ``data_fingerprint`` + its outcome (status and
the build's ``trained_with``). A FINISHED child run of an
earlier build with the same identity is reused (its id goes to ``mlflow_run_id``, nothing is logged
again) unless ``sweep.tracking.rerun: true``. Training status (``ok``/``failed``/``skipped``) is the
run's ``status`` tag; the MLflow run status is FINISHED once logging completed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from dbt_sweep.log import get_logger
from dbt_sweep.spec import SweepSpec, spec_hash
from dbt_sweep.tracking.context import (
    HAS_MODEL_TAG,
    MODEL_TAG,
    TRAINED_WITH_TAG,
    TrackingContext,
    outcome_of,
    run_identity,
)
from dbt_sweep.tracking.errors import handle_error
from dbt_sweep.tracking.store import client

__all__ = ["EMBEDDED_DB", "fail_parent", "record_plan", "resolve_uri", "start_tracking"]

#: The embedded store: ``mlflow ui`` (an alias of ``mlflow server`` in mlflow 3) defaults to
#: ``sqlite:///mlflow.db`` in the working directory (mlflow.store.tracking.DEFAULT_TRACKING_URI).
EMBEDDED_DB = "mlflow.db"
_INIT_LOCK = threading.Lock()  # store + experiment creation, once per process at a time
_logger = get_logger()


def resolve_uri(uri: str | None, *, project_dir: str | os.PathLike[str]) -> str:
    """The tracking URI: the spec's, else ``$MLFLOW_TRACKING_URI``, else the embedded store.

    Parameters
    ----------
    uri : str or None
        ``sweep.tracking.uri``.
    project_dir : path-like
        The dbt project, where the embedded store ``mlflow.db`` lives.

    Returns
    -------
    str
        The tracking URI to use.

    Examples
    --------
    >>> resolve_uri("http://127.0.0.1:5000", project_dir="/p")
    'http://127.0.0.1:5000'
    """
    if uri:
        return uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{Path(project_dir).resolve() / EMBEDDED_DB}"


def _artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of the embedded store go to ``mlruns/`` next to ``mlflow.db`` (git-ignored)."""
    if not uri.startswith("sqlite:///"):
        return None  # a server or database decides its own artifact root
    db = Path(uri[len("sqlite:///") :])
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in experiment)
    return (db.parent / "mlruns" / safe).as_uri()


def _probe(uri: str) -> None:
    """Fail fast on an unreachable server: MLflow's own client retries for minutes."""
    if uri.startswith(("http://", "https://")):
        import requests

        response = requests.get(f"{uri.rstrip('/')}/health", timeout=5)
        response.raise_for_status()


def _open_experiment(uri: str, experiment: str) -> Any:
    """The experiment named ``experiment``, created (or restored from deleted) when needed."""
    with _INIT_LOCK:
        _probe(uri)
        mlflow_client = client(uri)
        found = mlflow_client.get_experiment_by_name(experiment)
        if found is None:
            experiment_id = mlflow_client.create_experiment(
                experiment, artifact_location=_artifact_location(uri, experiment)
            )
            found = mlflow_client.get_experiment(experiment_id)
        elif found.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(found.experiment_id)
        return found


def _create_parent_run(
    mlflow_client: Any,
    experiment_id: str,
    spec: SweepSpec,
    *,
    common: dict[str, str],
    model: str,
    unique_id: str,
    target: str,
    invocation_id: str | None,
) -> str:
    """The parent run of this dbt invocation's build of ``model``; returns its id."""
    parent = mlflow_client.create_run(
        experiment_id,
        run_name=f"{model}-{(invocation_id or 'local')[:8]}",
        tags={
            **common,
            "dbt.model": model,
            "dbt.target": target,
            "spec_hash": spec_hash(spec),
            "level": spec.tracking.level,
            "mlflow.note.content": f"dbt build of sweep model {unique_id} (target {target!r}).",
        },
    )
    return str(parent.info.run_id)


def start_tracking(
    spec: SweepSpec,
    *,
    model: str,
    unique_id: str,
    target: str,
    project_dir: str | os.PathLike[str],
    invocation_id: str | None,
    trained_with: str = "",
) -> TrackingContext | None:
    """Prepare the experiment and the parent run on the driver, before any training.

    Parameters
    ----------
    spec : SweepSpec
        The validated spec; ``spec.tracking`` says where and how much to log.
    model, unique_id, target : str
        The dbt model's name and unique id, and the dbt target.
    project_dir : path-like
        Where the embedded store lives.
    invocation_id : str or None
        The dbt invocation id.
    trained_with : str, default=""
        The build's ``sweep_runs.trained_with``: part of each child run's identity.

    Returns
    -------
    TrackingContext or None
        None when tracking is disabled, or failed with ``on_error: warn``.

    Raises
    ------
    TrackingError
        The store or server failed and ``on_error`` is ``fail``.
    """
    options = spec.tracking
    if not options.enabled:
        return None
    uri = resolve_uri(options.uri, project_dir=project_dir)
    experiment = options.experiment or model
    common = {
        MODEL_TAG: model,
        "dbt.unique_id": unique_id,
        "dbt.invocation_id": invocation_id or "",
    }
    try:
        found = _open_experiment(uri, experiment)
        mlflow_client = client(uri)
        parent_run_id = _create_parent_run(
            mlflow_client, found.experiment_id, spec, common=common, model=model,
            unique_id=unique_id, target=target, invocation_id=invocation_id,
        )  # fmt: skip
        existing = (
            {} if options.rerun else _existing_runs(mlflow_client, found.experiment_id, model)
        )
    except Exception as exc:
        handle_error(
            exc,
            uri=uri,
            action="preparing the experiment and parent run",
            model=model,
            on_error=options.on_error,
            then="Continuing without tracking (sweep.tracking.on_error: warn).",
        )
        return None
    return TrackingContext(
        uri=uri,
        experiment_id=str(found.experiment_id),
        experiment=experiment,
        artifact_location=str(found.artifact_location),
        parent_run_id=parent_run_id,
        level=options.level,
        log_models=options.log_models,
        register=options.register,
        on_error=options.on_error,
        group_by=list(spec.group_by),
        metrics=list(spec.metrics or []),
        common_tags=common,
        existing=existing,
        primary_direction=spec.primary_direction,
        allowed_modules=tuple(spec.allowed_modules),
        trained_with=trained_with,
    )


def _existing_runs(
    mlflow_client: Any, experiment_id: str, model: str
) -> dict[str, tuple[str, bool]]:
    """One search (paged) for the model's FINISHED child runs: identity -> (run id, has model)."""
    out: dict[str, tuple[str, bool]] = {}
    token = None
    while True:
        page = mlflow_client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{MODEL_TAG}` = '{model}' and attributes.status = 'FINISHED'",
            max_results=5000,
            page_token=token,
        )
        for run in page:
            tags = run.data.tags
            if "run_key" in tags:
                outcome = outcome_of(tags.get("status", ""), tags.get(TRAINED_WITH_TAG, ""))
                identity = run_identity(tags["run_key"], tags.get("data_fingerprint", ""), outcome)
                out.setdefault(identity, (run.info.run_id, tags.get(HAS_MODEL_TAG) == "true"))
        token = page.token
        if not token:
            return out


def record_plan(ctx: TrackingContext, *, trained: int, carried: int, removed: int) -> None:
    """Tag the parent run with what the build did to the table: runs trained (the child runs),
    carried forward from an earlier build (not logged again) and removed. Warns on failure.

    Parameters
    ----------
    ctx : TrackingContext
        The parent run and its store.
    trained, carried, removed : int
        The counts of :class:`dbt_sweep.spark.carry.RunPlan`.
    """
    counts = {"trained": trained, "carried_forward": carried, "removed": removed}
    try:
        for name, count in counts.items():
            client(ctx.uri).set_tag(ctx.parent_run_id, f"dbt_sweep.runs_{name}", str(count))
    except Exception as exc:
        handle_error(
            exc, uri=ctx.uri, action="tagging the parent run with the build's plan",
            model=ctx.common_tags.get(MODEL_TAG, "?"), on_error="warn",
            then="The runs are logged; only these tags are missing.",
        )  # fmt: skip


def fail_parent(ctx: TrackingContext, *, status: str = "FAILED") -> None:
    """End the parent run as ``status`` (training failed: ``FAILED``; the build was interrupted or
    its jobs cancelled: ``KILLED``), so no run stays RUNNING forever; never raises.

    Parameters
    ----------
    ctx : TrackingContext
        The parent run and its store.
    status : {"FAILED", "KILLED"}, default="FAILED"
        MLflow's terminal status for the run.
    """
    try:
        client(ctx.uri).set_terminated(ctx.parent_run_id, status)
    except Exception as exc:
        _logger.warning(
            f"Could not mark MLflow run {ctx.parent_run_id} as {status} at '{ctx.uri}': {exc}"
        )
