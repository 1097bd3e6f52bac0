"""MLflow child runs and models, written from wherever the results are: Spark workers or the driver.

No Spark import: this module runs in Spark's Python workers. Workers get a :class:`TrackingContext`
(plain data) in the training closure; the driver prepared the store, experiment and parent run.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "TrackingContext",
    "child_run_payload",
    "log_child_runs",
    "log_sklearn_model",
    "run_identity",
    "track_unit",
]

# MLflow's limits (mlflow/utils/validation.py): tag values 8000 chars, params 6000.
_MAX_TAG = 5000
_MAX_PARAM = 6000
_TIMINGS = ("n_train", "n_test", "fit_seconds", "score_seconds")
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class TrackingContext:
    """What a worker needs to log into a prepared experiment; plain data, pickled into the closure.

    Parameters
    ----------
    uri : str
        The tracking URI (never resolved again on workers: their working directory differs).
    experiment_id, experiment, artifact_location : str
        The experiment the driver created or found, and its artifact root.
    parent_run_id : str
        The dbt invocation's parent run.
    level : {"runs", "groups", "sweep"}
    log_models : {"best", "all", "none"}
    register : bool
    on_error : {"fail", "warn"}
    group_by, metrics : sequence of str
        The spec's group columns and metric columns.
    common_tags : mapping of str to str
        Tags every child run gets (model, dbt invocation id).
    existing : mapping of str to tuple of (str, bool)
        ``run_key:data_fingerprint`` -> (run id, has a logged model) of FINISHED child runs of
        earlier builds, from one search on the driver (empty with ``rerun: true``).
    """

    uri: str
    experiment_id: str
    experiment: str
    artifact_location: str
    parent_run_id: str
    level: str
    log_models: str
    register: bool
    on_error: str
    group_by: Sequence[str]
    metrics: Sequence[str]
    common_tags: Mapping[str, str] = field(default_factory=dict)
    existing: Mapping[str, tuple[str, bool]] = field(default_factory=dict)


def run_identity(run_key: str, data_fingerprint: str) -> str:
    """The identity of a child run across builds: same run on the same data -> same MLflow run."""
    return f"{run_key}:{data_fingerprint}"


def _plain(value: Any) -> Any:
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

    Returns
    -------
    dict
        ``name``, ``tags``, ``params``, ``metrics`` (NaN/None metrics are left out).

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
        **{f"group.{col}": str(value) for col, value in groups.items()},
    }
    if row.get("error"):
        tags["error"] = str(row["error"])[:_MAX_TAG]
    name = "-".join([str(row["estimator_name"]), *map(str, groups.values()), str(row["run_key"])[:8]])
    return {
        "name": name,
        "tags": tags,
        "params": {str(k): json.dumps(v) if not isinstance(v, str) else v for k, v in params.items()},
        "metrics": metrics,
    }


def client(uri: str) -> Any:
    """One ``MlflowClient`` per process and URI: Spark reuses Python workers, so the store's engine
    and schema check are paid once per worker, not once per unit."""
    with _CLIENTS_LOCK:
        if uri not in _CLIENTS:
            from mlflow import MlflowClient

            _CLIENTS[uri] = MlflowClient(tracking_uri=uri)
        return _CLIENTS[uri]


def write_runs(ctx: TrackingContext, payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create FINISHED runs in the experiment, in one transaction when the store is a database.

    MLflow has no multi-run batch call: through the client a run costs create + log_batch +
    set_terminated, ~20 ms of ORM work on a SQLite store. For SQLAlchemy stores we add the same ORM
    rows MLflow's ``SqlAlchemyStore.create_run`` / ``log_batch`` add, for all of a unit's runs in one
    session (~1-2 ms a run); any other store (a tracking server) goes through the public client.
    """
    if not payloads:
        return []
    mlflow_client = client(ctx.uri)
    store = mlflow_client._tracking_client.store
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    if isinstance(store, SqlAlchemyStore):
        return _write_runs_sql(store, ctx, payloads)
    return [_write_run_client(mlflow_client, ctx, payload) for payload in payloads]


def _write_run_client(mlflow_client: Any, ctx: TrackingContext, payload: Mapping[str, Any]) -> str:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    run = mlflow_client.create_run(ctx.experiment_id, tags=payload["tags"], run_name=payload["name"])
    run_id = run.info.run_id
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in payload["metrics"].items()],
        params=[Param(k, v[:_MAX_PARAM]) for k, v in payload["params"].items()],
    )
    mlflow_client.set_terminated(run_id, "FINISHED")
    return str(run_id)


def _write_runs_sql(store: Any, ctx: TrackingContext, payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    from mlflow.entities import LifecycleStage, RunStatus, SourceType
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER
    from mlflow.utils.uri import append_to_uri_path

    user = ctx.common_tags.get(MLFLOW_USER, "")
    now = int(time.time() * 1000)
    ids: list[str] = []
    with store.ManagedSessionMaker(read_only=False) as session:
        for payload in payloads:
            run_id = uuid.uuid4().hex
            run = SqlRun(
                name=payload["name"],
                artifact_uri=append_to_uri_path(ctx.artifact_location, run_id, "artifacts"),
                run_uuid=run_id,
                experiment_id=int(ctx.experiment_id),
                source_type=SourceType.to_string(SourceType.UNKNOWN),
                source_name="",
                entry_point_name="",
                user_id=user,
                status=RunStatus.to_string(RunStatus.FINISHED),
                start_time=now,
                end_time=now,
                deleted_time=None,
                source_version="",
                lifecycle_stage=LifecycleStage.ACTIVE,
            )
            tags = {**payload["tags"], MLFLOW_RUN_NAME: payload["name"]}
            run.tags = [SqlTag(key=k, value=v) for k, v in tags.items()]
            run.params = [SqlParam(key=k, value=v[:_MAX_PARAM]) for k, v in payload["params"].items()]
            run.metrics = [
                SqlMetric(key=k, value=v, timestamp=now, step=0, is_nan=False)
                for k, v in payload["metrics"].items()
            ]
            run.latest_metrics = [
                SqlLatestMetric(key=k, value=v, timestamp=now, step=0, is_nan=False)
                for k, v in payload["metrics"].items()
            ]
            session.add(run)
            ids.append(run_id)
    return ids


def log_child_runs(result: pd.DataFrame, fingerprints: Sequence[str], ctx: TrackingContext) -> list[str]:
    """Log one unit's training runs as child runs; reuse FINISHED runs of unchanged runs.

    Parameters
    ----------
    result : DataFrame
        ``train_unit``'s output for the unit.
    fingerprints : sequence of str
        ``data_fingerprint`` of each row of ``result`` (from the manifest, same order).
    ctx : TrackingContext

    Returns
    -------
    list of str
        The MLflow run id of each row, in order.
    """
    rows = result.assign(data_fingerprint=list(fingerprints)).to_dict("records")
    ids: list[str | None] = []
    new: list[tuple[int, dict[str, Any]]] = []
    for i, row in enumerate(rows):
        known = ctx.existing.get(run_identity(row["run_key"], row["data_fingerprint"]))
        ids.append(known[0] if known else None)
        if not known:
            new.append((i, child_run_payload(row, ctx)))
    for (i, _), run_id in zip(new, write_runs(ctx, [payload for _, payload in new]), strict=True):
        ids[i] = run_id
    return [str(run_id) for run_id in ids]


def pip_requirements() -> list[str]:
    """The environment a logged model needs, stated, so MLflow never infers it (seconds per model)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "numpy", "pandas", "scipy")]


def log_sklearn_model(
    uri: str,
    run_id: str,
    blob: bytes,
    *,
    name: str,
    example: pd.DataFrame,
    registered_name: str | None = None,
) -> str:
    """Log a fitted pipeline as an MLflow sklearn model (skops format) into an existing run.

    Parameters
    ----------
    uri : str
        Tracking URI.
    run_id : str
        The run that owns the model.
    blob : bytes
        The fitted pipeline's skops bytes, as stored in the table; loaded with
        :func:`dbt_sweep.serialize.load_model` (sklearn, numpy and scipy types only).
    name : str
        The model's name within the run.
    example : DataFrame
        A few feature rows: the input example and, with the predictions, the signature.
    registered_name : str or None, default=None
        Register the model as a new version of this registered model.

    Returns
    -------
    str
        The model URI (``models:/<model id>``).
    """
    import mlflow
    import mlflow.sklearn
    import skops.io as sio
    from mlflow.models import infer_signature

    from dbt_sweep.serialize import load_model

    model = load_model(blob)  # raises unless every type is from the allowed modules
    client(uri)  # creates the store once per process
    mlflow.set_tracking_uri(uri)
    signature = infer_signature(example, model.predict(example))
    info = mlflow.sklearn.log_model(
        model,
        name=name,
        run_id=run_id,
        serialization_format="skops",
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(),
        registered_model_name=registered_name,
        await_registration_for=0,
        # load_model above vetted these (e.g. sklearn.tree._tree.Tree); MLflow re-checks on save.
        skops_trusted_types=sio.get_untrusted_types(data=blob),
    )
    return str(info.model_uri)


def track_unit(
    result: pd.DataFrame,
    fingerprints: Sequence[str],
    examples: pd.DataFrame,
    ctx: TrackingContext,
) -> list[str | None]:
    """Worker side of ``level: runs``: the unit's child runs, and its models with ``log_models: all``.

    Parameters
    ----------
    result : DataFrame
        ``train_unit``'s output for the unit.
    fingerprints : sequence of str
        The manifest's ``data_fingerprint`` of each row.
    examples : DataFrame
        A few of the unit's feature rows (input example and signature of logged models).
    ctx : TrackingContext

    Returns
    -------
    list of str or None
        The child run id of each row; all None when logging failed with ``on_error: warn``.

    Raises
    ------
    TrackingError
        Logging failed and ``on_error`` is ``fail``.
    """
    from dbt_sweep.exceptions import TrackingError

    try:
        ids = log_child_runs(result, fingerprints, ctx)
        if ctx.log_models == "all":
            for run_id, fingerprint, row in zip(ids, fingerprints, result.to_dict("records"), strict=True):
                known = ctx.existing.get(run_identity(row["run_key"], fingerprint))
                if row["status"] != "ok" or row["model"] is None or (known and known[1]):
                    continue
                log_sklearn_model(ctx.uri, run_id, bytes(row["model"]), name="model", example=examples)
                client(ctx.uri).set_tag(run_id, "dbt_sweep.has_model", "true")
    except Exception as exc:
        model = ctx.common_tags.get("dbt_sweep.model", "?")
        error = TrackingError(ctx.uri, "logging child runs on a Spark worker", exc, model=model)
        if ctx.on_error == "fail":
            raise error from exc
        from dbt_sweep._log import get_logger

        get_logger().warning(f"{error} Continuing without tracking for this unit.")
        return [None] * len(result)
    return list(ids)
