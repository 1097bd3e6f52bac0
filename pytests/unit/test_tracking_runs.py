"""Worker-side MLflow tracking against a real SQLite store (no Spark): child runs written in bulk,
search trials as metric history and table, models written from the table's skops bytes, and which
models a unit logs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from dbt_sweep.manifest import build_manifest, group_stats
from dbt_sweep.tracking.child_runs import log_child_runs
from dbt_sweep.tracking.context import TrackingContext, outcome_of, run_identity
from dbt_sweep.tracking.logged_models import ModelToLog, log_sklearn_model, log_sklearn_models
from dbt_sweep.tracking.model_choice import winner_keys
from dbt_sweep.tracking.store import client
from dbt_sweep.tracking.unit import log_unit_models, track_unit
from dbt_sweep.training.selection import best_runs
from dbt_sweep.training.serialize import load_model
from dbt_sweep.training.unit import sklearn_ready, train_unit

from conftest import make_spec

ESTIMATORS = [
    {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 10.0]}},
    {"name": "ridge_search", "estimator": "sklearn.linear_model.Ridge", "search": "random", "trials": 4,
     "space": {"alpha": {"float": [0.01, 10.0], "log": True}}},
]  # fmt: skip


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One embedded store for the module (creating its schema takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def store(db: str, tmp_path: Path) -> TrackingContext:
    """A fresh experiment and parent run in the embedded store; the context a worker gets."""
    mlflow_client = client(db)
    name = tmp_path.name  # unique per test, so are the registered model names
    experiment_id = mlflow_client.create_experiment(
        name, artifact_location=(tmp_path / "mlruns").as_uri()
    )
    parent = mlflow_client.create_run(experiment_id)
    return TrackingContext(
        uri=db, experiment_id=experiment_id, experiment=name,
        artifact_location=mlflow_client.get_experiment(experiment_id).artifact_location,
        parent_run_id=parent.info.run_id, level="runs", log_models="best", register=False, on_error="fail",
        group_by=["group_id"], metrics=["mae", "rmse", "r2"], common_tags={"dbt_sweep.model": "m"},
    )  # fmt: skip


def _trained(
    group: pd.DataFrame, *, store_models: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Two groups, each its own unit as Spark trains them: (results, input example, fingerprints)."""
    features = pd.concat([group, group.assign(group_id="g2", y=-group["y"])])
    spec = make_spec(
        estimators=ESTIMATORS, preprocessing={"scale": "standard"}, store_models=store_models
    )
    manifest = build_manifest(spec, group_stats(features, spec), parallelism=1)
    result = pd.concat(
        [
            train_unit(features[features["group_id"] == g], runs, spec)
            for g, runs in manifest.groupby("group_id")
        ],
        ignore_index=True,
    )
    assert (result["status"] == "ok").all()
    example = sklearn_ready(group[["x0", "x1", "x2", "x3"]].head(5))
    return result, example, manifest["data_fingerprint"].tolist()


@pytest.fixture
def unit(regression_group: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Results as a sweep stores them by default: only each unit's best model (store_models: best)."""
    return _trained(regression_group, store_models="best")


def test_child_runs_equal_the_rows_and_carry_the_trials(store, unit, tmp_path) -> None:
    """One bulk transaction writes every run; params, metrics and tags equal the rows, and a search
    run has its trials as the metric history `trial_value` and as the table `trials.json`."""
    result, _, fingerprints = unit
    ids = log_child_runs(result, fingerprints, store)
    mlflow_client = MlflowClient(store.uri)
    for row, run_id in zip(result.to_dict("records"), ids, strict=True):
        run = mlflow_client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == store.parent_run_id
        assert run.data.tags["run_key"] == row["run_key"]
        assert run.data.params == {k: json.dumps(v) for k, v in json.loads(row["params"]).items()}
        assert run.data.metrics["rmse"] == pytest.approx(row["rmse"], rel=1e-12)
        if row["trials"] is None:
            assert "trial_value" not in run.data.metrics
            assert "mlflow.loggedArtifacts" not in run.data.tags
            continue
        trials = json.loads(row["trials"])
        history = mlflow_client.get_metric_history(run_id, "trial_value")
        assert sorted((m.step, m.value) for m in history) == [
            (t["number"], t["value"]) for t in trials
        ]
        assert run.data.metrics["trial_value"] == trials[-1]["value"]  # the latest step
        assert run.data.metrics["n_trials"] == len(trials) == 4
        assert json.loads(run.data.tags["mlflow.loggedArtifacts"]) == [
            {"path": "trials.json", "type": "table"}
        ]
        path = mlflow_client.download_artifacts(run_id, "trials.json", str(tmp_path))
        table = pd.read_json(path, orient="split")
        assert table["number"].tolist() == [0, 1, 2, 3]
        assert table["param.alpha"].tolist() == pytest.approx(
            [t["params"]["alpha"] for t in trials]
        )
        assert set(table["run_key"]) == {row["run_key"]}


@pytest.mark.parametrize("bulk", [True, False], ids=["one-transaction", "client-calls"])
def test_logged_model_loads_and_predicts_like_the_table(store, unit, bulk) -> None:
    """The model written from the skops bytes, in one transaction (embedded store) or through the
    client's logged-model calls (any store), loads with mlflow.sklearn and pyfunc, predicts like the
    bytes, has a signature and input example, is an output of its run, and registers a version."""
    result, example, fingerprints = unit
    stored = (
        result["model"].notna().to_numpy().argmax()
    )  # spec.store_models: best keeps the winner's
    run_id = log_child_runs(result, fingerprints, store)[stored]
    blob = bytes(result["model"].iloc[stored])
    mlflow_client = MlflowClient(store.uri)
    if bulk:
        [uri] = log_sklearn_models(
            mlflow_client, [ModelToLog(run_id, blob, "model", example, f"{store.experiment}-g1")],
            experiment_id=store.experiment_id, artifact_location=store.artifact_location,
        )  # fmt: skip
    else:
        uri = log_sklearn_model(
            mlflow_client, run_id, blob, experiment_id=store.experiment_id, name="model", example=example,
            registered_name=f"{store.experiment}-g1",
        )  # fmt: skip
    mlflow.set_tracking_uri(store.uri)
    try:
        expected = load_model(blob).predict(example)
        np.testing.assert_allclose(mlflow.sklearn.load_model(uri).predict(example), expected)
        np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(example), expected)
        np.testing.assert_allclose(
            mlflow.sklearn.load_model(f"models:/{store.experiment}-g1/1").predict(example), expected
        )
        saved = mlflow.models.Model.load(uri)
    finally:
        mlflow.set_tracking_uri(None)
    logged = mlflow_client.get_logged_model(uri.removeprefix("models:/"))
    assert (logged.experiment_id, logged.source_run_id, str(logged.status.value)) == (
        store.experiment_id, run_id, "READY")  # fmt: skip
    assert logged.name == "model"
    assert saved.signature is not None and saved.saved_input_example_info is not None
    assert saved.flavors["sklearn"]["serialization_format"] == "skops"
    assert mlflow_client.get_run(run_id).outputs.model_outputs[0].model_id == logged.model_id


@pytest.mark.parametrize(
    ("level", "log_models", "register", "whole_groups", "expected"),
    [
        ("runs", "best", False, True, True),
        ("runs", "best", False, False, False),  # a shard cannot see its group's winner
        ("runs", "all", False, False, True),
        ("runs", "all", True, False, False),  # registering needs the winner
        ("sweep", "best", False, True, True),
        ("groups", "best", False, True, False),  # group runs exist only after training
        ("runs", "none", False, True, False),
    ],
    ids=[
        "best-whole",
        "best-sharded",
        "all-sharded",
        "all-register-sharded",
        "sweep-whole",
        "groups",
        "none",
    ],
)
def test_models_on_workers(store, level, log_models, register, whole_groups, expected) -> None:
    """Workers log models exactly when a unit alone can tell which ones."""
    ctx = replace(
        store, level=level, log_models=log_models, register=register, whole_groups=whole_groups
    )
    assert ctx.models_on_workers is expected


@pytest.mark.parametrize("level", ["runs", "sweep"])
def test_unit_logs_its_group_winners(store, unit, level) -> None:
    """A whole-group unit logs one model per group, the winner, into its child run or the parent run."""
    result, example, fingerprints = unit
    ctx = replace(store, level=level, whole_groups=True, register=True)
    ids = track_unit(result, fingerprints, example, ctx)
    mlflow_client = MlflowClient(store.uri)
    models = mlflow_client.search_logged_models([store.experiment_id])
    winners = result.sort_values(["rmse", "run_key"]).groupby("group_id").head(1)
    if level == "runs":
        by_key = dict(zip(result["run_key"], ids, strict=True))
        assert {m.source_run_id for m in models} == {by_key[k] for k in winners["run_key"]}
        assert all(mlflow_client.get_run(by_key[k]).data.tags["dbt_sweep.has_model"] == "true"
                   for k in winners["run_key"])  # fmt: skip
    else:
        assert ids == [None] * len(result)
        assert {m.source_run_id for m in models} == {store.parent_run_id}
        assert sorted(m.name for m in models) == sorted(
            f"model-{g}-{k[:8]}" for g, k in zip(winners["group_id"], winners["run_key"], strict=True))  # fmt: skip
    versions = mlflow_client.search_model_versions(f"name LIKE '{store.experiment}-g%'")
    assert sorted(v.name for v in versions) == [f"{store.experiment}-g1", f"{store.experiment}-g2"]


def test_all_models_skip_reused_runs_that_have_one(store, regression_group) -> None:
    """`log_models: all`: every ok run gets a model, except a reused run that already has one."""
    result, example, fingerprints = _trained(regression_group, store_models="all")
    ctx = replace(store, log_models="all")
    rows = result.assign(
        data_fingerprint=fingerprints, mlflow_run_id=log_child_runs(result, fingerprints, ctx)
    )
    first = rows.iloc[0]
    reused = replace(
        ctx,
        existing={
            run_identity(
                first["run_key"], first["data_fingerprint"], outcome_of(first["status"], "")
            ): (first["mlflow_run_id"], True)
        },
    )
    logged = log_unit_models(MlflowClient(store.uri), rows, example, reused)
    assert sorted(logged) == sorted(rows["mlflow_run_id"].iloc[1:])


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_unit_winners_rank_like_the_driver(store, direction) -> None:
    """The worker's winner per group (plain Python) is the driver's (`best_runs`): failed runs and
    missing or infinite metrics never win, ties go to the smallest run_key."""
    inf = float("inf")
    rows = pd.DataFrame({
        "group_id": ["a", "a", "a", "b", "b", "c", "d", "d", "d"],
        "run_key": ["k3", "k1", "k2", "k5", "k4", "k6", "k7", "k8", "k9"],
        "status": ["ok", "ok", "failed", "ok", "ok", "failed", "ok", "ok", "ok"],
        "primary_metric": [0.5, 0.5, 0.1, None, 0.7, None, -inf, inf, 0.3],
    })  # fmt: skip
    ctx = replace(store, primary_direction=direction)
    expected = set(best_runs(rows, ["group_id"], direction)["run_key"])
    assert winner_keys(rows, ctx) == expected == {"k1", "k4", "k9"}


def test_signature_is_shared_only_between_equal_schemas_of_numbers() -> None:
    """The per-schema signature cache: equal for equal dtypes and nulls, a null makes the column
    optional as MLflow infers it, and string columns are always inferred afresh."""
    from dbt_sweep.tracking.model_files import quiet_signature, signature_of

    frame = pd.DataFrame({"x": [0.5, 1.0, 2.0], "n": [1, 2, 3]})
    predictions = np.array([0.1, 0.2, 0.3])
    first = signature_of(frame, predictions)
    assert signature_of(frame * 3, predictions * 2) is first
    with_null = frame.assign(x=[0.5, None, 2.0])
    optional = signature_of(with_null, predictions)
    assert optional is not first
    assert [c.required for c in optional.inputs.inputs] == [False, True]
    assert optional == quiet_signature(with_null, predictions)  # what inferring afresh gives
    labels = frame.assign(s=["a", "b", "c"])
    assert signature_of(labels, predictions) is not signature_of(labels, predictions)
    assert signature_of(frame, np.array(["a", "b", "c"])) is not signature_of(
        frame, np.array(["a", "b", "c"])
    )
