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

from dbt_sweep.tracking.trials import (
    TRIALS_TABLE,
    table_tag,
    trial_history,
    trial_records,
    trials_table,
)

__all__ = [
    "TrackingContext",
    "child_run_payload",
    "log_child_runs",
    "run_identity",
    "set_tag",
    "track_unit",
]

# MLflow's limits (mlflow/utils/validation.py): tag values 8000 chars, params 6000.
_MAX_TAG = 5000
_MAX_PARAM = 6000
_TIMINGS = ("n_train", "n_test", "fit_seconds", "score_seconds")
HAS_MODEL_TAG = "dbt_sweep.has_model"  # a child run whose model is logged (reused runs keep it)
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
    primary_direction : {"minimize", "maximize"}, default="minimize"
        How the primary metric ranks runs (which run of a group wins).
    whole_groups : bool, default=False
        Every work unit is a whole group (no shards): a unit sees all runs of its group, so the
        worker can log the group's winner model itself, overlapped with training (see
        :attr:`models_on_workers`).
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
    primary_direction: str = "minimize"
    whole_groups: bool = False

    @property
    def models_on_workers(self) -> bool:
        """Whether Spark workers log the models, overlapped with training, instead of the driver
        after it. Workers see one unit: they know its winner only when the unit is a whole group
        (``log_models: best``, or ``all`` with ``register: true``, which registers winners). The
        driver logs everything at ``level: groups``, whose group runs exist only after training."""
        if self.log_models == "none" or self.level == "groups":
            return False
        return self.whole_groups or (self.log_models == "all" and not self.register)

    @property
    def logs_on_workers(self) -> bool:
        """Whether the training closure calls :func:`track_unit` at all."""
        return self.level == "runs" or self.models_on_workers


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


def client(uri: str) -> Any:
    """One ``MlflowClient`` per process and URI: Spark reuses Python workers, so the store's engine
    and schema check are paid once per worker, not once per unit."""
    with _CLIENTS_LOCK:
        if uri not in _CLIENTS:
            from mlflow import MlflowClient

            mlflow_client = MlflowClient(tracking_uri=uri)
            if uri.startswith("sqlite:"):
                _sqlite_wal(mlflow_client._tracking_client.store.engine)
            _CLIENTS[uri] = mlflow_client
        return _CLIENTS[uri]


def _sqlite_wal(engine: Any) -> None:
    """Commit to a SQLite store in WAL mode without an fsync per transaction.

    In SQLite's default rollback-journal mode every commit syncs the journal and the database:
    22.7 ms a commit measured here, more than the whole budget of a child run (issue #4: 15 ms) and a
    quarter of a logged model's. WAL with ``synchronous=NORMAL`` commits in 1.8 ms; the database
    stays consistent after a crash, the last transactions may be lost on power failure (SQLite's
    "WAL mode is always consistent with synchronous=NORMAL"). WAL also lets readers (``mlflow ui``)
    run while workers write. MLflow's own bulk migration (``mlflow.store.fs2db``) writes SQLite in
    WAL mode too. The journal mode is stored in the file; the sync level is per connection, hence
    the listener, and the pool is emptied so no connection opened before keeps the default.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()


def write_runs(ctx: TrackingContext, payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create FINISHED runs in the experiment, in one transaction when the store is a database.

    MLflow has no multi-run batch call: through the client a run costs create + log_batch +
    set_terminated, ~20 ms of ORM work on a SQLite store. For SQLAlchemy stores we insert the rows
    MLflow's ``SqlAlchemyStore.create_run`` / ``log_batch`` insert (runs, tags, params, metrics,
    latest metrics) for all of a unit's runs in one transaction, one multi-row INSERT per table;
    any other store (a tracking server) goes through the public client. A payload's ``tables`` are
    written as artifacts after the runs exist.
    """
    if not payloads:
        return []
    mlflow_client = client(ctx.uri)
    store = mlflow_client._tracking_client.store
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    if not isinstance(store, SqlAlchemyStore):
        return [_write_run_client(mlflow_client, ctx, payload) for payload in payloads]
    ids = _write_runs_sql(store, ctx, payloads)
    for run_id, payload in zip(ids, payloads, strict=True):
        if payload.get("tables"):
            _write_tables(ctx, run_id, payload["tables"])
    return ids


def _metric_points(payload: Mapping[str, Any]) -> list[tuple[str, float, int]]:
    """Every metric point of a payload: its metrics at step 0, then its ``history``."""
    return [(k, float(v), 0) for k, v in payload["metrics"].items()] + list(
        payload.get("history", ())
    )


def _write_run_client(mlflow_client: Any, ctx: TrackingContext, payload: Mapping[str, Any]) -> str:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    run = mlflow_client.create_run(
        ctx.experiment_id, tags=payload["tags"], run_name=payload["name"]
    )
    run_id = run.info.run_id
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, step) for k, v, step in _metric_points(payload)],
        params=[Param(k, v[:_MAX_PARAM]) for k, v in payload["params"].items()],
    )
    for name, text in payload.get("tables", {}).items():
        mlflow_client.log_text(run_id, text, name)
    mlflow_client.set_terminated(run_id, "FINISHED")
    return str(run_id)


def _write_runs_sql(
    store: Any, ctx: TrackingContext, payloads: Sequence[Mapping[str, Any]]
) -> list[str]:
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
    from sqlalchemy import insert

    user = ctx.common_tags.get(MLFLOW_USER, "")
    now = int(time.time() * 1000)
    ids: list[str] = []
    rows: dict[Any, list[dict[str, Any]]] = {
        t: [] for t in (SqlRun, SqlTag, SqlParam, SqlMetric, SqlLatestMetric)
    }
    for payload in payloads:
        run_id = uuid.uuid4().hex
        ids.append(run_id)
        rows[SqlRun].append(
            {
                "run_uuid": run_id, "name": payload["name"], "experiment_id": int(ctx.experiment_id),
                "artifact_uri": append_to_uri_path(ctx.artifact_location, run_id, "artifacts"),
                "source_type": SourceType.to_string(SourceType.UNKNOWN), "source_name": "",
                "entry_point_name": "", "user_id": user, "status": RunStatus.to_string(RunStatus.FINISHED),
                "start_time": now, "end_time": now, "deleted_time": None, "source_version": "",
                "lifecycle_stage": LifecycleStage.ACTIVE,
            }
        )  # fmt: skip
        tags = {**payload["tags"], MLFLOW_RUN_NAME: payload["name"]}
        rows[SqlTag] += [{"run_uuid": run_id, "key": k, "value": v} for k, v in tags.items()]
        rows[SqlParam] += [
            {"run_uuid": run_id, "key": k, "value": v[:_MAX_PARAM]}
            for k, v in payload["params"].items()
        ]
        latest: dict[str, dict[str, Any]] = {}
        for key, value, step in _metric_points(payload):
            point = {
                "run_uuid": run_id,
                "key": key,
                "value": value,
                "timestamp": now,
                "step": step,
                "is_nan": False,
            }
            rows[SqlMetric].append(point)
            if (
                key not in latest or step >= latest[key]["step"]
            ):  # MLflow's rule: the largest step wins
                latest[key] = point
        rows[SqlLatestMetric] += latest.values()
    with store.ManagedSessionMaker(read_only=False) as session:
        for table, values in rows.items():  # runs first: the others reference them
            if values:
                session.execute(insert(table.__table__), values)
    return ids


def _write_tables(ctx: TrackingContext, run_id: str, tables: Mapping[str, str]) -> None:
    """Write table artifacts straight into the run's artifact store (no run lookup: the run was just
    created with a known artifact URI)."""
    import tempfile
    from pathlib import Path

    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.utils.uri import append_to_uri_path

    repo = get_artifact_repository(append_to_uri_path(ctx.artifact_location, run_id, "artifacts"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in tables.items():
            path = Path(tmp) / name
            path.write_text(text)
            repo.log_artifact(str(path))


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
    from dbt_sweep.exceptions import TrackingError
    from dbt_sweep.tracking.models import log_unit_models

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
        model = ctx.common_tags.get("dbt_sweep.model", "?")
        error = TrackingError(ctx.uri, "logging child runs on a Spark worker", exc, model=model)
        if ctx.on_error == "fail":
            raise error from exc
        from dbt_sweep.log import get_logger

        get_logger().warning(f"{error} Continuing without tracking for this unit.")
        return [None] * len(result)
    return ids


def set_tag(ctx: TrackingContext, run_ids: Sequence[str], key: str, value: str) -> None:
    """Set one tag on many runs: one transaction on a database store."""
    if not run_ids:
        return
    mlflow_client = client(ctx.uri)
    store = mlflow_client._tracking_client.store
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    if not isinstance(store, SqlAlchemyStore):
        for run_id in run_ids:
            mlflow_client.set_tag(run_id, key, value)
        return
    from mlflow.store.tracking.dbmodels.models import SqlTag

    with store.ManagedSessionMaker(read_only=False) as session:
        for run_id in run_ids:
            session.merge(SqlTag(run_uuid=run_id, key=key, value=value))
