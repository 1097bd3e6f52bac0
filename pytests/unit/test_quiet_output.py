"""Quiet output (issue 16, item 8): logging a sweep's models prints no library warning per model,
and Spark's own log is configured by the package, not by a file of the user's project.

A 142-group build printed 142 copies of MLflow's "Hint: Inferred schema contains integer
column(s)..." when logging its winners. The signature is still MLflow's (integer columns stay
integer, so pyfunc accepts the rows the model was trained on) but is inferred without the hint.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dbt_sweep.tracking.logged_models import ModelToLog, log_sklearn_model, log_sklearn_models
from dbt_sweep.training.serialize import dump_model


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One embedded store for the module (creating its schema takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def integer_features() -> pd.DataFrame:
    """Integer features, as a Spark ``int``/``bigint`` column reaches pandas, and one float."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "store_size": rng.integers(1, 10, 40), "n_staff": rng.integers(0, 5, 40).astype("int32"),
        "price": rng.normal(size=40),
    })  # fmt: skip


@pytest.mark.parametrize("bulk", [True, False], ids=["one-transaction", "client-calls"])
def test_logging_models_with_integer_features_warns_nothing(
    db: str, tmp_path: Path, integer_features: pd.DataFrame, caplog, bulk: bool
) -> None:
    """Three models logged: no warning and no log record at WARNING or above; the signature is the
    one MLflow infers, and pyfunc scores the integer rows like the pipeline."""
    X = integer_features
    pipeline = make_pipeline(StandardScaler(), Ridge()).fit(X, 2.0 * X["store_size"] + X["price"])
    blob = dump_model(pipeline)
    mlflow_client = MlflowClient(db)
    experiment_id = mlflow_client.create_experiment(
        tmp_path.name, artifact_location=(tmp_path / "mlruns").as_uri()
    )
    location = mlflow_client.get_experiment(experiment_id).artifact_location
    run_ids = [mlflow_client.create_run(experiment_id).info.run_id for _ in range(3)]
    example = X.head(5)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")  # every copy, not Python's first-per-location default
        if bulk:
            uris = log_sklearn_models(
                mlflow_client, [ModelToLog(run_id, blob, "model", example) for run_id in run_ids],
                experiment_id=experiment_id, artifact_location=location,
            )  # fmt: skip
        else:
            uris = [
                log_sklearn_model(mlflow_client, run_id, blob, experiment_id=experiment_id,
                                  name="model", example=example)
                for run_id in run_ids
            ]  # fmt: skip
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    mlflow.set_tracking_uri(db)
    try:
        inputs = mlflow.models.Model.load(uris[0]).signature.inputs
        predicted = mlflow.pyfunc.load_model(uris[0]).predict(X)
    finally:
        mlflow.set_tracking_uri(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mlflow.models.infer_signature(example, pipeline.predict(example))
    assert inputs == expected.inputs
    assert [t.name for t in inputs.input_types()] == ["long", "integer", "double"]
    np.testing.assert_allclose(predicted, pipeline.predict(X))


def test_spark_log_configuration_ships_with_the_package(monkeypatch) -> None:
    """The plugin names the package's log4j2 file to the JVM (no file of the project needed), and
    leaves a configuration the user chose alone."""
    from dbt_sweep.plugin.registration import register_session_method
    from dbt_sweep.plugin.spark_log import (
        LOG4J2_PROPERTIES,
        LOG4J_ENVIRONMENT_VARIABLE,
        use_package_log4j2,
    )

    monkeypatch.setenv(LOG4J_ENVIRONMENT_VARIABLE, "unset")  # so the test's end restores it
    monkeypatch.delenv(LOG4J_ENVIRONMENT_VARIABLE)
    register_session_method()
    assert Path(os.environ[LOG4J_ENVIRONMENT_VARIABLE]) == LOG4J2_PROPERTIES
    assert LOG4J2_PROPERTIES.is_absolute()
    settings = dict(
        line.split(" = ", 1)
        for line in LOG4J2_PROPERTIES.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert settings["rootLogger.level"] == "warn"
    loggers = {
        settings[key]: settings[key.removesuffix(".name") + ".level"]
        for key in settings
        if key.startswith("logger.") and key.endswith(".name")
    }
    assert loggers["org.apache.spark.sql.classic.SparkSession"] == "error"  # the session method's
    assert loggers["org.apache.spark.util.SparkStringUtils"] == "error"  # a wide seed's plan
    assert use_package_log4j2({LOG4J_ENVIRONMENT_VARIABLE: "/etc/mine.xml"}) == "/etc/mine.xml"


def test_the_example_profile_needs_no_file_of_this_repository() -> None:
    """A user's copy of profiles.example.yml printed "Reconfiguration failed" on every run: it
    named conf/log4j2.properties, relative to a project that has no such file."""
    import yaml

    text = (Path(__file__).resolve().parents[2] / "profiles.example.yml").read_text()
    outputs = yaml.safe_load(text)["sweep"]["outputs"]
    options = {
        name: output.get("server_side_parameters", {}).get("spark.driver.extraJavaOptions", "")
        for name, output in outputs.items()
    }
    assert {name: "log4j" in value for name, value in options.items() if value} == {
        "local": False, "cluster": False
    }  # fmt: skip
    assert "conf/" not in text


def test_runs_ended_on_a_tracking_server_print_no_links(monkeypatch, tmp_path: Path) -> None:
    """MLflow printed "View run <name> at: <url>" and "View experiment at: <url>" to stdout for
    every run ended on a tracking server (two lines a child run); a tracking client turns that off,
    unless the environment says otherwise."""
    from dbt_sweep.tracking.store import client

    name = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    monkeypatch.setenv(name, "unset")  # so the test's end restores it
    monkeypatch.delenv(name)
    client(f"http://127.0.0.1:9/{tmp_path.name}")  # no request is made
    from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT

    assert MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.get() is True
