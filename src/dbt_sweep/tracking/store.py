"""Fast writes to an MLflow store: one client per URI, SQLite in WAL mode, many runs a transaction.

MLflow has no multi-run batch call, and through its client a child run costs ~20 ms of ORM work on
the embedded store, more than the budget of issue #4 (15 ms a child run). On a database store this
module writes the rows MLflow's own ``SqlAlchemyStore`` writes, for many runs in one transaction;
any other store (a tracking server) goes through the public client. No Spark import: Spark's Python
workers write their units' child runs here.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from dbt_sweep.tracking.context import TrackingContext

__all__ = ["WARMED", "client", "set_tag", "warm_imports", "write_runs"]

# MLflow's limit on a param value (mlflow/utils/validation.py: 6000 chars)
_MAX_PARAM = 6000
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


#: MLflow's HTTP defaults wait 120 s per request and retry 7 times with exponential backoff: a
#: tracking server that dies mid-training stalled a build for 9+ minutes (issue 17). These bounds
#: (a user's own environment variables win) make a dead server cost ~25 s per process at most; after
#: one failure with ``on_error: warn`` a process stops calling it for the build
#: (:mod:`dbt_sweep.tracking.unit`).
HTTP_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
}


#: For every run it ends on a tracking server, MLflow fetches the run once more to print two lines
#: to stdout ("View run <name> at: <url>", "View experiment at: <url>"): two lines and one request
#: a child run, in dbt's console from the driver and every Spark worker (issue 16). The runs are
#: found from their experiment and parent run instead.
QUIET_OUTPUT = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


def _bound_http_requests() -> None:
    """Apply :data:`HTTP_BOUNDS` and :data:`QUIET_OUTPUT` where the environment sets nothing
    (driver and Spark workers)."""
    for name, value in {**HTTP_BOUNDS, **QUIET_OUTPUT}.items():
        os.environ.setdefault(name, value)


#: What the driver's first tracking call imports: MLflow, its database store (the embedded default)
#: and the figure's matplotlib, 1.7 s of the runs model's critical path in a W1 build.
WARMED = ("mlflow", "mlflow.store.tracking.sqlalchemy_store", "matplotlib.figure")


def warm_imports(enabled: bool) -> threading.Thread | None:
    """Import :data:`WARMED` in a background thread, when ``enabled`` (tracking is on).

    The manifest model calls it once its own imports are done: the thread then runs while the
    manifest is written and the runs model starts, which wait on Spark, so the import that tracking
    then makes finds the modules loaded (or waits for the thread to finish them). A failure is left
    to that import to report.

    Returns
    -------
    threading.Thread or None
        The started thread, or None when ``enabled`` is false.
    """
    if not enabled:
        return None

    def load() -> None:
        _bound_http_requests()  # before MLflow's import, as client() does
        for name in WARMED:
            try:
                importlib.import_module(name)
            except Exception:  # reported by the import that needs the module
                continue

    thread = threading.Thread(target=load, name="dbt-sweep-warm-tracking", daemon=True)
    thread.start()
    return thread


def client(uri: str) -> Any:
    """One ``MlflowClient`` per process and URI.

    Spark reuses Python workers, so the store's engine and schema check are paid once per worker,
    not once per unit. A SQLite store is switched to WAL mode on first use.

    Parameters
    ----------
    uri : str
        The tracking URI.

    Returns
    -------
    mlflow.MlflowClient
        The same client for every call with ``uri`` in this process.
    """
    with _CLIENTS_LOCK:
        if uri not in _CLIENTS:
            _bound_http_requests()
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


def _sql_store(mlflow_client: Any) -> Any | None:
    """The client's store when it is a database (SQLAlchemy) store, else None (a server)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = mlflow_client._tracking_client.store
    return store if isinstance(store, SqlAlchemyStore) else None


def write_runs(ctx: TrackingContext, payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create FINISHED runs in the experiment, in one transaction when the store is a database.

    For SQLAlchemy stores the rows MLflow's ``SqlAlchemyStore.create_run`` / ``log_batch`` insert
    (runs, tags, params, metrics, latest metrics) are inserted for all runs in one transaction, one
    multi-row INSERT per table; any other store goes through the public client (create +
    log_batch + set_terminated per run). A payload's ``tables`` are written as artifacts after the
    runs exist.

    Parameters
    ----------
    ctx : TrackingContext
        The experiment to write into.
    payloads : sequence of mapping
        One per run: ``name``, ``tags``, ``params`` (str values), ``metrics`` (logged at step 0),
        optionally ``history`` (``(key, value, step)`` points) and ``tables`` (artifact name ->
        text), as :func:`~dbt_sweep.tracking.child_runs.child_run_payload` makes them.

    Returns
    -------
    list of str
        The new run ids, in the order of ``payloads``.
    """
    if not payloads:
        return []
    mlflow_client = client(ctx.uri)
    store = _sql_store(mlflow_client)
    if store is None:
        return [_write_run_client(mlflow_client, ctx, payload) for payload in payloads]
    ids, rows = _sql_rows(ctx, payloads)
    with store.ManagedSessionMaker(read_only=False) as session:
        from sqlalchemy import insert

        for table, values in rows.items():  # runs first: the others reference them
            if values:
                session.execute(insert(table.__table__), values)
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
    """One run through the public client: any store, three calls and a request each."""
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


def _sql_rows(
    ctx: TrackingContext, payloads: Sequence[Mapping[str, Any]]
) -> tuple[list[str], dict[Any, list[dict[str, Any]]]]:
    """New run ids, and the rows of each MLflow table (runs first) that create those runs."""
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
            if key not in latest or step >= latest[key]["step"]:  # MLflow's: the largest step wins
                latest[key] = point
        rows[SqlLatestMetric] += latest.values()
    return ids, rows


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


def set_tag(ctx: TrackingContext, run_ids: Sequence[str], key: str, value: str) -> None:
    """Set one tag on many runs: one transaction on a database store, a call a run elsewhere.

    Parameters
    ----------
    ctx : TrackingContext
        Where the runs are.
    run_ids : sequence of str
        The runs to tag; none is a no-op.
    key, value : str
        The tag.
    """
    if not run_ids:
        return
    mlflow_client = client(ctx.uri)
    store = _sql_store(mlflow_client)
    if store is None:
        for run_id in run_ids:
            mlflow_client.set_tag(run_id, key, value)
        return
    from mlflow.store.tracking.dbmodels.models import SqlTag

    with store.ManagedSessionMaker(read_only=False) as session:
        for run_id in run_ids:
            session.merge(SqlTag(run_uuid=run_id, key=key, value=value))
