"""The driver's MLflow bookkeeping against real SQLite stores (no Spark): a sweep leaves no
process-wide MLflow state that sends the next project's sweep to its store, and the child runs a
retried Spark task logged twice are deleted, with the models logged and registered from them."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from dbt_sweep.tracking.context import TrackingContext
from dbt_sweep.tracking.logged_models import log_sklearn_model
from dbt_sweep.tracking.parent import resolve_uri
from dbt_sweep.tracking.retries import delete_retried_attempts
from dbt_sweep.tracking.store import client
from dbt_sweep.training.serialize import dump_model

EXAMPLE = pd.DataFrame({"x": np.arange(6.0)})
BLOB = dump_model(Ridge().fit(EXAMPLE, 2 * EXAMPLE["x"]))


def _context(project: Path) -> TrackingContext:
    """An experiment and a parent run in the project's embedded store."""
    uri = resolve_uri(None, project_dir=project)
    mlflow_client = client(uri)
    experiment_id = mlflow_client.create_experiment(
        "e", artifact_location=(project / "mlruns").as_uri()
    )
    parent = mlflow_client.create_run(experiment_id)
    return TrackingContext(
        uri=uri, experiment_id=experiment_id, experiment="e", artifact_location=str(project / "mlruns"),
        parent_run_id=parent.info.run_id, level="runs", log_models="best", register=False, on_error="fail",
        group_by=["g"], metrics=["rmse"],
    )  # fmt: skip


def test_a_logged_model_leaves_the_next_project_its_own_store(tmp_path, monkeypatch) -> None:
    """Regression: logging a model once went through mlflow.set_tracking_uri, which exports
    $MLFLOW_TRACKING_URI; the next project's sweep in the same process took that for the user's
    choice and logged into the first project's mlflow.db."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = _context(tmp_path / "first")
    run_id = client(first.uri).create_run(first.experiment_id).info.run_id
    log_sklearn_model(
        client(first.uri),
        run_id,
        BLOB,
        experiment_id=first.experiment_id,
        name="model",
        example=EXAMPLE,
    )
    assert "MLFLOW_TRACKING_URI" not in os.environ
    second = resolve_uri(None, project_dir=tmp_path / "second")
    assert second == f"sqlite:///{(tmp_path / 'second').resolve() / 'mlflow.db'}"


def test_child_runs_no_row_references_are_deleted_with_their_models(tmp_path) -> None:
    """A retried unit's first-attempt runs (not in the table) go, with the models logged and
    registered from them; the table's runs and a reused run of an earlier build stay."""
    ctx = _context(tmp_path / "project")
    mlflow_client = client(ctx.uri)
    earlier = mlflow_client.create_run(
        ctx.experiment_id, tags={"mlflow.parentRunId": "an-earlier-parent"}
    )

    def child() -> str:
        return mlflow_client.create_run(
            ctx.experiment_id, tags={"mlflow.parentRunId": ctx.parent_run_id}
        ).info.run_id

    kept, retried = [child(), child()], child()
    for run_id in (kept[0], retried):
        log_sklearn_model(
            mlflow_client, run_id, BLOB, experiment_id=ctx.experiment_id, name="model", example=EXAMPLE,
            registered_name="e-g1",
        )  # fmt: skip
    table = pd.DataFrame({"run_key": ["k1", "k2", "k3"], "mlflow_run_id": [*kept, None]})

    assert delete_retried_attempts(mlflow_client, ctx, table) == [retried]
    assert mlflow_client.get_run(retried).info.lifecycle_stage == "deleted"
    for run_id in (*kept, earlier.info.run_id):
        assert mlflow_client.get_run(run_id).info.lifecycle_stage == "active"
    models = mlflow_client.search_logged_models([ctx.experiment_id])
    assert [m.source_run_id for m in models] == [kept[0]]
    assert [v.run_id for v in mlflow_client.search_model_versions("name = 'e-g1'")] == [kept[0]]
    # nothing left to delete: the call is idempotent
    assert delete_retried_attempts(mlflow_client, ctx, table) == []


def test_a_retried_units_second_model_on_the_parent_run_keeps_the_newest(tmp_path) -> None:
    """``level: sweep`` with models logged by workers: a retried task logs its winners on the parent
    run again; the newest model of each name stays (the attempt that lived), with one version."""
    ctx = replace(_context(tmp_path / "project"), level="sweep", whole_groups=True, register=True)
    assert ctx.models_on_workers
    mlflow_client = client(ctx.uri)

    def log(name: str) -> str:
        uri = log_sklearn_model(
            mlflow_client, ctx.parent_run_id, BLOB, experiment_id=ctx.experiment_id, name=name,
            example=EXAMPLE, registered_name=f"e-{name}",
        )  # fmt: skip
        return uri.removeprefix("models:/")

    dead, other = log("g1"), log("g2")
    lived = log("g1")
    assert delete_retried_attempts(mlflow_client, ctx, pd.DataFrame({"mlflow_run_id": []})) == [
        dead
    ]
    assert {m.model_id for m in mlflow_client.search_logged_models([ctx.experiment_id])} == {
        lived,
        other,
    }
    assert [v.version for v in mlflow_client.search_model_versions("name = 'e-g1'")] == [2]
    assert delete_retried_attempts(mlflow_client, ctx, pd.DataFrame({"mlflow_run_id": []})) == []
