"""Attach sklearn models to runs as MLflow logged models, and register them.

Each model's folder is written from the table's skops bytes (:mod:`dbt_sweep.tracking.model_files`)
and attached to its run: on the embedded store with one transaction for all of a unit's models,
elsewhere with the tracking client's logged-model calls. With a registered name, the model also
becomes a new version of that registered model. No Spark import: Spark's Python workers log winners
here when a work unit is a whole group.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dbt_sweep.tracking.model_files import write_model_dir

__all__ = ["ModelToLog", "log_sklearn_model", "log_sklearn_models"]


@dataclass(frozen=True)
class ModelToLog:
    """One model for :func:`log_sklearn_models`.

    Parameters
    ----------
    run_id : str
        The run that owns the model (its ``source_run_id``; the model is one of its outputs).
    blob : bytes
        The fitted pipeline's skops bytes, as stored in the table; loaded once (trusted types only,
        see :mod:`dbt_sweep.training.serialize`) to infer the signature, and written unchanged as
        ``model.skops``.
    name : str
        The model's name.
    example : DataFrame
        A few feature rows: the input example and, with the predictions, the signature.
    registered_name : str or None, default=None
        Register the model as a new version of this registered model (created when missing).
    allowed_modules : tuple of str, default=("sklearn.",)
        The spec's estimator module prefixes: whose estimator classes the bytes may hold.
    """

    run_id: str
    blob: bytes
    name: str
    example: pd.DataFrame
    registered_name: str | None = None
    allowed_modules: tuple[str, ...] = ("sklearn.",)


def _local_path(uri: str) -> Path | None:
    """The folder of a ``file:`` artifact location, else None (a server or object store)."""
    from urllib.parse import urlparse

    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri)) if urlparse(uri).scheme == "file" else None


def log_sklearn_models(
    mlflow_client: Any, models: Sequence[ModelToLog], *, experiment_id: str, artifact_location: str
) -> list[str]:
    """Log fitted pipelines' skops bytes as MLflow sklearn models of existing runs.

    On a database store with local artifacts (the embedded store) every model directory is written
    in place, then ONE transaction adds the rows ``MlflowClient.create_logged_model`` /
    ``log_outputs`` / ``finalize_logged_model`` add (the model, READY, as an output of its run):
    through the client those are three transactions and ~60 ms of ORM work per model. Any other
    store goes through the client, model by model (:func:`log_sklearn_model`).

    Parameters
    ----------
    mlflow_client : mlflow.MlflowClient
        A client of the tracking URI.
    models : sequence of ModelToLog
        The models, their runs and names.
    experiment_id, artifact_location : str
        The runs' experiment and its artifact root.

    Returns
    -------
    list of str
        The model URIs (``models:/<model id>``), in order.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = mlflow_client._tracking_client.store
    if not models:
        return []
    if not isinstance(store, SqlAlchemyStore) or _local_path(artifact_location) is None:
        return [
            log_sklearn_model(mlflow_client, m.run_id, m.blob, experiment_id=experiment_id, name=m.name,
                              example=m.example, registered_name=m.registered_name,
                              allowed_modules=m.allowed_modules)
            for m in models
        ]  # fmt: skip
    return _log_in_place(
        mlflow_client,
        store,
        models,
        experiment_id=experiment_id,
        artifact_location=artifact_location,
    )


def _log_in_place(
    mlflow_client: Any,
    store: Any,
    models: Sequence[ModelToLog],
    *,
    experiment_id: str,
    artifact_location: str,
) -> list[str]:
    """:func:`log_sklearn_models` on a database store with local artifacts: folders written in
    place, one transaction for the rows, then the registered versions."""
    from mlflow.utils.uri import append_to_uri_path

    rows = []
    for m in models:
        model_id = f"m-{uuid.uuid4().hex}"  # MLflow's own id format
        location = append_to_uri_path(
            artifact_location, store.MODELS_FOLDER_NAME, model_id, store.ARTIFACTS_FOLDER_NAME
        )
        path = _local_path(location)
        assert path is not None  # a file: experiment root gives file: model folders
        write_model_dir(
            path,
            m.blob,
            model_id=model_id,
            artifact_location=location,
            run_id=m.run_id,
            example=m.example,
            allowed_modules=m.allowed_modules,
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
    """The logged-model rows (READY) and their run-output rows, in one transaction."""
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
    allowed_modules: tuple[str, ...] = ("sklearn.",),
) -> str:
    """Log one model through the tracking client's logged-model calls (any store).

    Parameters
    ----------
    mlflow_client : mlflow.MlflowClient
        A client of the tracking URI.
    run_id : str
        The run the model is an output of.
    blob : bytes
        The fitted pipeline's skops bytes.
    experiment_id : str
        The run's experiment.
    name : str
        The model's name.
    example : DataFrame
        A few feature rows (input example and signature).
    registered_name : str or None, default=None
        Register the model as a new version of this registered model.
    allowed_modules : tuple of str, default=("sklearn.",)
        The spec's estimator module prefixes (see :class:`ModelToLog`).

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
            write_model_dir(
                path, blob, model_id=logged.model_id, artifact_location=logged.artifact_location, run_id=run_id,
                example=example, allowed_modules=allowed_modules,
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
