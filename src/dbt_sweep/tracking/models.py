"""MLflow sklearn models written from the skops bytes a sweep already holds.

``mlflow.sklearn.log_model`` costs 75-90 ms a model here even with explicit requirements (issue #4):
it serialises the model again, resolves the pip requirements and the Python environment, loads the
model back to validate a serving input, and reads the run's params and metric histories. The bytes
in ``sweep_runs`` already are the skops file MLflow would write, and the environment is the same
for every model of a process, so this module writes the same MLflow model directory (``MLmodel``
with the ``sklearn`` and ``python_function`` flavours, ``model.skops``, input example, signature,
``conda.yaml`` / ``python_env.yaml`` / ``requirements.txt``) from those bytes and attaches it to a
run: on the embedded store with one transaction for all of a unit's models, elsewhere with the
tracking client's logged-model calls. The result loads with ``mlflow.sklearn.load_model`` /
``mlflow.pyfunc.load_model`` like any logged model.

Which models a unit logs, and under which names, is decided here too, so the driver
(:func:`dbt_sweep.tracking.parent.finish_tracking`) and the workers (:func:`log_unit_models`) agree. No
Spark import: Spark's Python workers log winners here when a work unit is a whole group.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dbt_sweep.tracking.child_runs import TrackingContext, run_identity

__all__ = [
    "ModelToLog",
    "log_sklearn_model",
    "log_sklearn_models",
    "log_unit_models",
    "model_name",
    "pip_requirements",
    "registered_model_name",
    "winners_of",
]

_SKOPS_FILE = "model.skops"  # mlflow.sklearn._SKOPS_MODEL_DATA_SUBPATH
_ENV_FILES = ("conda.yaml", "python_env.yaml", "requirements.txt")


def pip_requirements() -> list[str]:
    """The environment a logged model needs, stated, so MLflow never infers it (seconds per model)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "numpy", "pandas", "scipy")
    ]


@functools.cache
def environment_files() -> dict[str, bytes]:
    """``conda.yaml``, ``python_env.yaml`` and ``requirements.txt`` as ``mlflow.sklearn.save_model``
    writes them for :func:`pip_requirements`: made once per process by saving a tiny model, so the
    files stay MLflow's own (and the process pays MLflow's imports here, once)."""
    import mlflow.sklearn
    from sklearn.dummy import DummyRegressor

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        mlflow.sklearn.save_model(
            DummyRegressor().fit([[0.0]], [0.0]), str(path), serialization_format="skops",
            pip_requirements=pip_requirements(),
        )  # fmt: skip
        return {name: (path / name).read_bytes() for name in _ENV_FILES}


def _write_model_dir(
    path: Path,
    blob: bytes,
    *,
    model_id: str,
    artifact_location: str,
    run_id: str,
    example: pd.DataFrame,
) -> None:
    """The directory ``mlflow.sklearn.save_model`` would write, with ``blob`` as ``model.skops``."""
    import sklearn
    import skops.io as sio
    from mlflow import pyfunc
    from mlflow.models import Model, infer_signature
    from mlflow.models.utils import _save_example

    from dbt_sweep.exceptions import UntrustedModelError
    from dbt_sweep.training.serialize import DEFAULT_ALLOWED_MODULES

    # serialize.load_model's rule, with the type list kept for MLmodel's skops_trusted_types
    trusted = sio.get_untrusted_types(data=blob)
    offending = [name for name in trusted if not name.startswith(DEFAULT_ALLOWED_MODULES)]
    if offending:
        raise UntrustedModelError(offending, DEFAULT_ALLOWED_MODULES)
    model = sio.loads(blob, trusted=trusted)
    path.mkdir(parents=True, exist_ok=True)
    mlflow_model = Model(
        artifact_path=artifact_location, model_uuid=model_id, run_id=run_id, model_id=model_id
    )
    _save_example(mlflow_model, example, str(path))
    mlflow_model.signature = infer_signature(example, model.predict(example))
    (path / _SKOPS_FILE).write_bytes(blob)
    for name, content in environment_files().items():
        (path / name).write_bytes(content)
    pyfunc.add_to_model(
        mlflow_model, loader_module="mlflow.sklearn", model_path=_SKOPS_FILE, conda_env=_ENV_FILES[0],
        python_env=_ENV_FILES[1], code=None, predict_fn="predict",
    )  # fmt: skip
    mlflow_model.add_flavor(
        "sklearn", pickled_model=_SKOPS_FILE, sklearn_version=sklearn.__version__,
        serialization_format="skops", code=None, skops_trusted_types=trusted,
    )  # fmt: skip
    mlflow_model.model_size_bytes = sum(f.stat().st_size for f in path.iterdir())
    mlflow_model.save(str(path / "MLmodel"))


def _local_path(uri: str) -> Path | None:
    """The folder of a ``file:`` artifact location, else None (a server or object store)."""
    from urllib.parse import urlparse

    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri)) if urlparse(uri).scheme == "file" else None


@dataclass(frozen=True)
class ModelToLog:
    """One model for :func:`log_sklearn_models`.

    Parameters
    ----------
    run_id : str
        The run that owns the model (its ``source_run_id``; the model is one of its outputs).
    blob : bytes
        The fitted pipeline's skops bytes, as stored in the table; loaded once with
        :func:`dbt_sweep.training.serialize.load_model` (sklearn, numpy and scipy types only) to infer the
        signature, and written unchanged as ``model.skops``.
    name : str
        The model's name.
    example : DataFrame
        A few feature rows: the input example and, with the predictions, the signature.
    registered_name : str or None, default=None
        Register the model as a new version of this registered model (created when missing).
    """

    run_id: str
    blob: bytes
    name: str
    example: pd.DataFrame
    registered_name: str | None = None


def log_sklearn_models(
    mlflow_client: Any, models: Sequence[ModelToLog], *, experiment_id: str, artifact_location: str
) -> list[str]:
    """Log fitted pipelines' skops bytes as MLflow sklearn models of existing runs.

    On a database store with local artifacts (the embedded store) every model directory is written
    in place, then ONE transaction adds the rows ``MlflowClient.create_logged_model`` /
    ``log_outputs`` / ``finalize_logged_model`` add (the model, READY, as an output of its run):
    through the client those are three transactions and ~60 ms of ORM work per model. Any other
    store goes through the client, model by model.

    Parameters
    ----------
    mlflow_client : mlflow.MlflowClient
        A client of the tracking URI.
    models : sequence of ModelToLog
    experiment_id, artifact_location : str
        The runs' experiment and its artifact root.

    Returns
    -------
    list of str
        The model URIs (``models:/<model id>``), in order.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.uri import append_to_uri_path

    store = mlflow_client._tracking_client.store
    if not models:
        return []
    if not isinstance(store, SqlAlchemyStore) or _local_path(artifact_location) is None:
        return [
            log_sklearn_model(mlflow_client, m.run_id, m.blob, experiment_id=experiment_id, name=m.name,
                              example=m.example, registered_name=m.registered_name)
            for m in models
        ]  # fmt: skip
    rows = []
    for m in models:
        model_id = f"m-{uuid.uuid4().hex}"  # MLflow's own id format
        location = append_to_uri_path(
            artifact_location, store.MODELS_FOLDER_NAME, model_id, store.ARTIFACTS_FOLDER_NAME
        )
        path = _local_path(location)
        assert path is not None  # a file: experiment root gives file: model folders
        _write_model_dir(
            path,
            m.blob,
            model_id=model_id,
            artifact_location=location,
            run_id=m.run_id,
            example=m.example,
        )
        rows.append((m, model_id, location))
    _insert_logged_models(store, rows, experiment_id=experiment_id)
    for m, model_id, location in rows:
        if m.registered_name:
            _register(mlflow_client, m.registered_name, model_id, location, run_id=m.run_id)
    return [f"models:/{model_id}" for _, model_id, _ in rows]


def _insert_logged_models(
    store: Any, rows: Sequence[tuple[ModelToLog, str, str]], *, experiment_id: str
) -> None:
    from mlflow.entities import LifecycleStage, LoggedModelStatus
    from mlflow.store.tracking.dbmodels.models import SqlInput, SqlLoggedModel
    from sqlalchemy import insert

    now = int(time.time() * 1000)
    models = [
        {
            "model_id": model_id, "experiment_id": int(experiment_id), "name": m.name, "artifact_location": location,
            "creation_timestamp_ms": now, "last_updated_timestamp_ms": now, "model_type": None,
            "status": LoggedModelStatus.READY.to_int(), "lifecycle_stage": LifecycleStage.ACTIVE,
            "source_run_id": m.run_id, "status_message": None,
        }
        for m, model_id, location in rows
    ]  # fmt: skip
    outputs = [
        {"input_uuid": uuid.uuid4().hex, "source_type": "RUN_OUTPUT", "source_id": m.run_id,
         "destination_type": "MODEL_OUTPUT", "destination_id": model_id, "step": 0}
        for m, model_id, _ in rows
    ]  # fmt: skip
    with store.ManagedSessionMaker(read_only=False) as session:
        session.execute(insert(SqlLoggedModel.__table__), models)
        session.execute(insert(SqlInput.__table__), outputs)


def log_sklearn_model(
    mlflow_client: Any,
    run_id: str,
    blob: bytes,
    *,
    experiment_id: str,
    name: str,
    example: pd.DataFrame,
    registered_name: str | None = None,
) -> str:
    """Log one model through the tracking client's logged-model calls (any store).

    Parameters are those of :class:`ModelToLog`, plus the client and the run's experiment.

    Returns
    -------
    str
        The model URI (``models:/<model id>``).
    """
    from mlflow.entities import LoggedModelOutput

    logged = mlflow_client.create_logged_model(experiment_id, name=name, source_run_id=run_id)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model"
            _write_model_dir(
                path, blob, model_id=logged.model_id, artifact_location=logged.artifact_location, run_id=run_id,
                example=example,
            )  # fmt: skip
            mlflow_client.log_model_artifacts(logged.model_id, str(path))
        mlflow_client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    except BaseException:
        mlflow_client.finalize_logged_model(logged.model_id, "FAILED")
        raise
    mlflow_client.finalize_logged_model(logged.model_id, "READY")
    if registered_name:
        _register(
            mlflow_client, registered_name, logged.model_id, logged.artifact_location, run_id=run_id
        )
    return f"models:/{logged.model_id}"


def _register(mlflow_client: Any, name: str, model_id: str, location: str, *, run_id: str) -> None:
    """A new version of registered model ``name`` (created on first use; another process may win
    that race, which is fine), linked from the logged model as ``mlflow.register_model`` links it.

    The source is the model's artifact location, not ``models:/<id>``: a database registry resolves
    that URI through the process-global tracking URI, not the client's (MLflow's own TODO in
    ``SqlAlchemyStore.create_model_version``), and failed with "Logged model ... not found".
    """
    from mlflow.exceptions import MlflowException
    from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

    try:
        mlflow_client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    version = mlflow_client.create_model_version(
        name, location, run_id=run_id, model_id=model_id, await_creation_for=0
    )
    mlflow_client.set_logged_model_tags(
        model_id, {MLFLOW_MODEL_VERSIONS: json.dumps([{"name": name, "version": version.version}])}
    )


def winners_of(runs: pd.DataFrame, group_by: Sequence[str], direction: str) -> pd.DataFrame:
    """The best ``ok`` run per group by ``primary_metric`` (ties: smallest ``run_key``), ranked like
    the ``sweep_best_models`` macro.

    Examples
    --------
    >>> runs = pd.DataFrame({"g": ["a", "a", "b"], "run_key": ["k1", "k2", "k3"],
    ...     "status": ["ok", "ok", "failed"], "primary_metric": [0.5, 0.9, None]})
    >>> winners_of(runs, ["g"], "maximize")["run_key"].tolist()
    ['k2']
    """
    ok = runs[(runs["status"] == "ok") & runs["primary_metric"].notna()].copy()
    sign = -1.0 if direction == "maximize" else 1.0
    ok["_rank"] = sign * ok["primary_metric"].astype(float)
    ok = ok.sort_values(["_rank", "run_key"], kind="stable")
    return (
        ok.groupby(list(group_by), dropna=False, sort=True)
        .head(1)
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def model_name(ctx: TrackingContext, row: Mapping[str, Any]) -> str:
    """A logged model's name: ``model`` in its own child run; with the group and run key where one
    run holds many (the group run, the parent run)."""
    if ctx.level == "runs":
        return "model"
    if ctx.level == "groups":
        return f"{row['estimator_name']}-{str(row['run_key'])[:8]}"
    return "-".join(["model", *(str(row[c]) for c in ctx.group_by), str(row["run_key"])[:8]])


def registered_model_name(ctx: TrackingContext, key: Sequence[Any]) -> str:
    """``register: true``: one registered model per group, a version per build's winner."""
    return "-".join([ctx.experiment, *map(str, key)])


def _winner_keys(rows: pd.DataFrame, ctx: TrackingContext) -> set[str]:
    """:func:`winners_of`'s ``run_key`` set, in plain Python: a unit has a handful of rows, where
    pandas' groupby costs ~5 ms a call."""
    sign = -1.0 if ctx.primary_direction == "maximize" else 1.0
    best: dict[tuple[Any, ...], tuple[float, str]] = {}
    columns = [rows[c].tolist() for c in ctx.group_by]
    for i, (status, metric, run_key) in enumerate(
        zip(rows["status"], rows["primary_metric"], rows["run_key"], strict=True)
    ):
        if status != "ok" or metric is None or pd.isna(metric):
            continue
        key = tuple(column[i] for column in columns)
        rank = (sign * float(metric), str(run_key))
        if key not in best or rank < best[key]:
            best[key] = rank
    return {run_key for _, run_key in best.values()}


def log_unit_models(
    mlflow_client: Any, rows: pd.DataFrame, example: pd.DataFrame, ctx: TrackingContext
) -> list[str]:
    """Log a unit's models from a Spark worker (:attr:`TrackingContext.models_on_workers`).

    ``log_models: all`` logs every ``ok`` run, ``best`` the winner of each group (the unit is the
    whole group). At ``level: runs`` a model goes into its child run, skipped when a reused run
    already has one; at ``level: sweep`` into the parent run. With ``register: true`` each winner
    becomes a version of its group's registered model.

    Parameters
    ----------
    mlflow_client : mlflow.MlflowClient
    rows : DataFrame
        ``train_unit``'s output with ``data_fingerprint`` and ``mlflow_run_id`` (child runs).
    example : DataFrame
        A few of the unit's feature rows.
    ctx : TrackingContext

    Returns
    -------
    list of str
        The child runs that got a model (``level: runs``), else empty.
    """
    best = _winner_keys(rows, ctx) if ctx.whole_groups else set()
    ok = rows[(rows["status"] == "ok") & rows["model"].notna()]
    wanted = ok if ctx.log_models == "all" else ok[ok["run_key"].isin(best)]
    models: list[ModelToLog] = []
    for row in wanted.to_dict("records"):
        run_id = ctx.parent_run_id
        if ctx.level == "runs":
            run_id = str(row["mlflow_run_id"])
            known = ctx.existing.get(run_identity(row["run_key"], row["data_fingerprint"]))
            if known and known[1]:
                continue  # a reused child run that already has its model
        key = [row[c] for c in ctx.group_by]
        register = ctx.register and row["run_key"] in best
        models.append(
            ModelToLog(run_id, bytes(row["model"]), model_name(ctx, row), example,
                       registered_model_name(ctx, key) if register else None)
        )  # fmt: skip
    log_sklearn_models(
        mlflow_client,
        models,
        experiment_id=ctx.experiment_id,
        artifact_location=ctx.artifact_location,
    )
    return [m.run_id for m in models] if ctx.level == "runs" else []
