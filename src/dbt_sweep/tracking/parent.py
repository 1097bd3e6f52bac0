"""MLflow tracking of a sweep: one experiment per sweep model, one parent run per dbt invocation.

Where each kind of logging happens, and why:

- **Driver, before training** (:func:`start_tracking`): resolve the URI, check the server answers,
  create the store and the experiment (once, under a process lock: concurrent first use of a SQLite
  store corrupts it, concurrent ``set_experiment`` can land runs in "Default"), create the parent run
  and find the child runs of earlier builds with ONE search. Workers get only plain data
  (:class:`~dbt_sweep.tracking.child_runs.TrackingContext`).
- **Workers, after each unit** (``level: runs``): the unit's child runs, one transaction per unit on
  a database store, and with ``log_models: all`` every ``ok`` model of the unit.
- **Driver, after training** (:func:`finish_tracking`): what needs every run of a group or of the
  sweep: group runs (``level: groups``), the winner models (the best run of a group may be in any
  shard of the group, so only the driver sees all of them), the figure and the results table on the
  parent run. First, it deletes what a retried Spark task logged twice
  (:mod:`dbt_sweep.tracking.retries`): the experiment keeps one child run per row of the table.

Identity rule: a child run stands for ``run_key`` + ``data_fingerprint``. A FINISHED child run of an
earlier build with the same identity is reused (its id goes to ``mlflow_run_id``, nothing is logged
again) unless ``sweep.tracking.rerun: true``. Training status (``ok``/``failed``/``skipped``) is the
run's ``status`` tag; the MLflow run status is FINISHED once logging completed.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dbt_sweep.exceptions import TrackingError
from dbt_sweep.log import get_logger
from dbt_sweep.spec import SweepSpec, canonical_hash, spec_hash
from dbt_sweep.tracking.child_runs import (
    HAS_MODEL_TAG,
    TrackingContext,
    client,
    run_identity,
    set_tag,
    write_runs,
)
from dbt_sweep.tracking.models import (
    ModelToLog,
    log_sklearn_models,
    model_name,
    registered_model_name,
    winners_of,
)
from dbt_sweep.tracking.retries import delete_retried_attempts
from dbt_sweep.tracking.trials import (
    TRIALS_TABLE,
    runs_trials_table,
    table_tag,
    trial_history,
    trial_records,
)

__all__ = [
    "EMBEDDED_DB",
    "TrackingContext",
    "finish_tracking",
    "resolve_uri",
    "start_tracking",
    "winners",
]

#: The embedded store: ``mlflow ui`` (an alias of ``mlflow server`` in mlflow 3) defaults to
#: ``sqlite:///mlflow.db`` in the working directory (mlflow.store.tracking.DEFAULT_TRACKING_URI).
EMBEDDED_DB = "mlflow.db"
_MODEL_TAG = "dbt_sweep.model"
_HAS_MODEL_TAG = HAS_MODEL_TAG
_INIT_LOCK = threading.Lock()  # store + experiment creation, once per process at a time
_logger = get_logger()


def resolve_uri(uri: str | None, *, project_dir: str | os.PathLike[str]) -> str:
    """The tracking URI: the spec's, else ``$MLFLOW_TRACKING_URI``, else the embedded store.

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


def _handle(exc: BaseException, *, uri: str, action: str, model: str, on_error: str) -> None:
    error = TrackingError(uri, action, exc, model=model)
    if on_error == "fail":
        raise error from exc
    _logger.warning(f"{error} Continuing without tracking (sweep.tracking.on_error: warn).")


def start_tracking(
    spec: SweepSpec,
    *,
    model: str,
    unique_id: str,
    target: str,
    project_dir: str | os.PathLike[str],
    invocation_id: str | None,
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
    try:
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
        common = {
            _MODEL_TAG: model,
            "dbt.unique_id": unique_id,
            "dbt.invocation_id": invocation_id or "",
        }
        parent = mlflow_client.create_run(
            found.experiment_id,
            run_name=f"{model}-{(invocation_id or 'local')[:8]}",
            tags={
                **common,
                "dbt.model": model,
                "dbt.target": target,
                "spec_hash": spec_hash(spec),
                "level": options.level,
                "mlflow.note.content": f"dbt build of sweep model {unique_id} (target {target!r}).",
            },
        )
        existing = (
            {} if options.rerun else _existing_runs(mlflow_client, found.experiment_id, model)
        )
    except Exception as exc:
        _handle(
            exc,
            uri=uri,
            action="preparing the experiment and parent run",
            model=model,
            on_error=options.on_error,
        )
        return None
    return TrackingContext(
        uri=uri,
        experiment_id=str(found.experiment_id),
        experiment=experiment,
        artifact_location=str(found.artifact_location),
        parent_run_id=parent.info.run_id,
        level=options.level,
        log_models=options.log_models,
        register=options.register,
        on_error=options.on_error,
        group_by=list(spec.group_by),
        metrics=list(spec.metrics or []),
        common_tags=common,
        existing=existing,
        primary_direction=spec.primary_direction,
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
            filter_string=f"tags.`{_MODEL_TAG}` = '{model}' and attributes.status = 'FINISHED'",
            max_results=5000,
            page_token=token,
        )
        for run in page:
            tags = run.data.tags
            if "run_key" in tags:
                identity = run_identity(tags["run_key"], tags.get("data_fingerprint", ""))
                out.setdefault(identity, (run.info.run_id, tags.get(_HAS_MODEL_TAG) == "true"))
        token = page.token
        if not token:
            return out


def winners(runs: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """The best ``ok`` run per group, ranked like the ``sweep_best_models`` macro (ties: smallest run_key).

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "f", "group_by": "g", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge"}], "primary_metric": "r2"}, model="m")
    >>> runs = pd.DataFrame({"g": ["a", "a", "b"], "run_key": ["k1", "k2", "k3"],
    ...     "status": ["ok", "ok", "failed"], "primary_metric": [0.5, 0.9, None]})
    >>> winners(runs, spec)["run_key"].tolist()
    ['k2']
    """
    return winners_of(runs, spec.group_by, spec.primary_direction)


def _group_key(row: Mapping[str, Any], group_by: list[str]) -> tuple[Any, ...]:
    return tuple(row[c] for c in group_by)


def _group_runs(
    ctx: TrackingContext, runs: pd.DataFrame, best: pd.DataFrame, spec: SweepSpec
) -> dict[tuple[Any, ...], str]:
    """``level: groups``: one child run per group with the winner's params and metrics."""
    best_by_group = {_group_key(r, spec.group_by): r for r in best.to_dict("records")}
    ids: dict[tuple[Any, ...], str] = {}
    payloads, keys = [], []
    for key, frame in runs.groupby(spec.group_by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        group_key = canonical_hash(sorted(frame["run_key"]))
        fingerprint = str(frame["data_fingerprint"].iloc[0]) if "data_fingerprint" in frame else ""
        known = ctx.existing.get(run_identity(group_key, fingerprint))
        if known:
            ids[key] = known[0]
            continue
        win = best_by_group.get(key)
        counts = frame["status"].value_counts()
        tags = {
            **ctx.common_tags,
            "mlflow.parentRunId": ctx.parent_run_id,
            "run_key": group_key,
            "data_fingerprint": fingerprint,
            "status": "ok" if win is not None else "failed",
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
        name = "-".join(["group", *map(str, key)])
        # issue #8: the group's trials as one table, the winner's as its metric history
        table = runs_trials_table(frame, ["run_key", "estimator_name"])
        tables = {TRIALS_TABLE: table} if table else {}
        tags.update(table_tag(tables))
        history = trial_history(trial_records(win.get("trials"))) if win is not None else []
        payloads.append({"name": name, "tags": tags, "params": params, "metrics": metrics,
                         "history": history, "tables": tables})  # fmt: skip
        keys.append(key)
    ids.update(zip(keys, write_runs(ctx, payloads), strict=True))
    return ids


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
    runs : DataFrame
        Every row of the sweep's results, without the ``model`` bytes, with ``data_fingerprint``
        and ``mlflow_run_id`` (filled at ``level: runs``).
    models : DataFrame
        ``run_key`` and ``model`` bytes of the runs whose model the driver logs (see
        :func:`models_to_log`).
    examples : mapping of tuple to DataFrame
        Group key -> a few feature rows (input example and signature).
    spec : SweepSpec
    model : str
        The dbt model's name, for messages.

    Returns
    -------
    dict
        Group key -> group run id (``level: groups``), else empty.
    """
    try:
        return _finish(ctx, runs, models, examples, spec)
    except Exception as exc:
        try:
            client(ctx.uri).set_terminated(ctx.parent_run_id, "FAILED")
        except Exception:  # the store is what failed; the first error is the one to report
            pass
        _handle(
            exc,
            uri=ctx.uri,
            action="logging the sweep's results",
            model=model,
            on_error=ctx.on_error,
        )
        return {}


def models_to_log(ctx: TrackingContext, runs: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """The rows whose model the driver logs: winners, or with ``log_models: all`` every ``ok`` run;
    none when the workers logged them (:attr:`TrackingContext.models_on_workers`)."""
    if ctx.log_models == "none" or ctx.models_on_workers:
        return runs.iloc[:0]
    if ctx.log_models == "all":
        return runs[runs["status"] == "ok"]
    return winners(runs, spec)


def _finish(
    ctx: TrackingContext,
    runs: pd.DataFrame,
    models: pd.DataFrame,
    examples: Mapping[tuple[Any, ...], pd.DataFrame],
    spec: SweepSpec,
) -> dict[tuple[Any, ...], str]:
    from dbt_sweep.tracking.figure import metric_figure

    mlflow_client = client(ctx.uri)
    delete_retried_attempts(mlflow_client, ctx, runs)  # before anything reads the runs back
    best = winners(runs, spec)
    group_ids = _group_runs(ctx, runs, best, spec) if ctx.level == "groups" else {}
    blobs = dict(zip(models["run_key"], models["model"], strict=True))
    best_keys = set(best["run_key"])
    to_log: list[ModelToLog] = []
    for row in models_to_log(ctx, runs, spec).to_dict("records"):
        if row["run_key"] not in blobs:
            continue
        key = _group_key(row, spec.group_by)
        if ctx.level == "runs":
            run_id = row["mlflow_run_id"]
            known = ctx.existing.get(run_identity(row["run_key"], row["data_fingerprint"]))
            if known and known[0] == run_id and known[1]:
                continue  # reused run that already has its model
        elif ctx.level == "groups":
            run_id = group_ids[key]
        else:
            run_id = ctx.parent_run_id
        if not run_id:
            continue  # its child run was not logged (on_error: warn)
        example = examples.get(key)
        if example is None:  # e.g. a null group key, which the example query cannot match
            example = next(iter(examples.values()))
        register = ctx.register and row["run_key"] in best_keys
        to_log.append(
            ModelToLog(str(run_id), bytes(blobs[row["run_key"]]), model_name(ctx, row), example,
                       registered_model_name(ctx, key) if register else None)
        )  # fmt: skip
    log_sklearn_models(
        mlflow_client,
        to_log,
        experiment_id=ctx.experiment_id,
        artifact_location=ctx.artifact_location,
    )
    if ctx.level == "runs":
        set_tag(ctx, [m.run_id for m in to_log], _HAS_MODEL_TAG, "true")
    counts = runs["status"].value_counts()
    from mlflow.entities import Metric

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
    mlflow_client.set_terminated(ctx.parent_run_id, "FINISHED")
    return group_ids


def fail_parent(ctx: TrackingContext) -> None:
    """Mark the parent run FAILED (training itself failed); never raises."""
    try:
        client(ctx.uri).set_terminated(ctx.parent_run_id, "FAILED")
    except Exception as exc:
        _logger.warning(
            f"Could not mark MLflow run {ctx.parent_run_id} as FAILED at '{ctx.uri}': {exc}"
        )
