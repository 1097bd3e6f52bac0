"""Tracking faults degrade within bounds: a dead tracking server costs one bounded wait per worker
(``on_error: warn``), interrupted training ends the parent run KILLED, and dbt's cancel stops the
running models' Spark jobs."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace

import pandas as pd
import pytest

from dbt_sweep.exceptions import TrackingError
from dbt_sweep.plugin import spark_session
from dbt_sweep.tracking import unit as tracking_unit
from dbt_sweep.tracking.context import TrackingContext
from dbt_sweep.tracking.parent import fail_parent
from dbt_sweep.tracking.store import HTTP_BOUNDS, client


def _dead_server() -> str:
    """An http URI on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _context(uri: str, *, on_error: str, parent: str = "p1") -> TrackingContext:
    return TrackingContext(
        uri=uri, experiment_id="0", experiment="e", artifact_location="/tmp/a", parent_run_id=parent,
        level="runs", log_models="none", register=False, on_error=on_error, group_by=["g"],
        metrics=["rmse"], common_tags={"dbt_sweep.model": "sweep_runs"},
    )  # fmt: skip


def _result() -> pd.DataFrame:
    return pd.DataFrame(
        {"run_key": ["k1"], "g": ["a"], "estimator_name": ["ridge"], "estimator": ["x.Ridge"],
         "params": ["{}"], "search": ["grid"], "status": ["ok"], "error": [None], "rmse": [1.0],
         "primary_metric": [1.0], "n_train": [8], "n_test": [2], "fit_seconds": [0.1],
         "score_seconds": [0.1], "trials": [None]}
    )  # fmt: skip


def test_clients_bound_mlflow_http_requests_unless_the_user_set_them(monkeypatch) -> None:
    """Every client this package makes waits at most the bounded timeout and retries once; a user's
    own MLFLOW_HTTP_* setting wins."""
    for name in HTTP_BOUNDS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "33")
    client(_dead_server())
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "33"
    assert (
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
        == HTTP_BOUNDS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    )


def test_a_dead_server_is_asked_once_per_worker_with_warn(monkeypatch) -> None:
    """on_error: warn: the first unit's failure is bounded and logged; later units of the same
    build skip tracking at once instead of waiting out the timeouts again."""
    for name, value in HTTP_BOUNDS.items():
        monkeypatch.setenv(name, value)
    ctx = _context(_dead_server(), on_error="warn", parent="dead-parent")
    start = time.perf_counter()
    assert tracking_unit.track_unit(_result(), ["f1"], pd.DataFrame(), ctx) == [None]
    first = time.perf_counter() - start
    assert first < 30  # refused connections: one retry with a 1 s backoff
    start = time.perf_counter()
    assert tracking_unit.track_unit(_result(), ["f1"], pd.DataFrame(), ctx) == [None]
    assert time.perf_counter() - start < 0.05
    assert "dead-parent" in tracking_unit._GAVE_UP


def test_a_dead_server_fails_the_unit_with_fail(monkeypatch) -> None:
    for name, value in HTTP_BOUNDS.items():
        monkeypatch.setenv(name, value)
    ctx = _context(_dead_server(), on_error="fail", parent="dead-parent-fail")
    with pytest.raises(TrackingError, match="logging child runs on a Spark worker"):
        tracking_unit.track_unit(_result(), ["f1"], pd.DataFrame(), ctx)


def test_fail_parent_ends_the_run_with_the_status_given(tmp_path) -> None:
    """Interrupted training ends the parent run KILLED, a failure FAILED: never RUNNING."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_client = client(uri)
    experiment = mlflow_client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    for status in ("KILLED", "FAILED"):
        run = mlflow_client.create_run(experiment).info.run_id
        fail_parent(_context(uri, on_error="fail", parent=run), status=status)
        assert mlflow_client.get_run(run).info.status == status


def test_dbt_cancel_cancels_every_running_models_jobs() -> None:
    """The registry behind dbt's cancel (a Ctrl-C): every running model's cancel is called once,
    and a model that finished is no longer there."""
    cancelled: list[str] = []
    with spark_session._RUNNING_LOCK:
        spark_session._RUNNING.update(
            {"dbt-model.p.a": lambda: cancelled.append("a"), "dbt-model.p.b": lambda: 1 / 0}
        )
    try:
        assert sorted(spark_session.cancel_running_models()) == ["dbt-model.p.a", "dbt-model.p.b"]
        assert cancelled == ["a"]  # a failing cancel does not stop the others
    finally:
        with spark_session._RUNNING_LOCK:
            spark_session._RUNNING.clear()


def test_the_parent_run_says_what_the_build_did(tmp_path) -> None:
    """record_plan tags the parent run with the runs trained, carried forward and removed."""
    from dbt_sweep.tracking import record_plan

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_client = client(uri)
    experiment = mlflow_client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    run = mlflow_client.create_run(experiment).info.run_id
    record_plan(_context(uri, on_error="fail", parent=run), trained=11, carried=4, removed=4)
    tags = mlflow_client.get_run(run).data.tags
    assert {k: v for k, v in tags.items() if k.startswith("dbt_sweep.runs_")} == {
        "dbt_sweep.runs_trained": "11",
        "dbt_sweep.runs_carried_forward": "4",
        "dbt_sweep.runs_removed": "4",
    }


@pytest.mark.parametrize(
    ("status", "trained_with", "reused"),
    [("ok", "v1", True), ("skipped", "v1", False), ("ok", "v2", False)],
    ids=["same-outcome", "status-changed", "settings-changed"],
)
def test_a_changed_outcome_is_logged_as_a_new_run(
    tmp_path, status: str, trained_with: str, reused: bool
) -> None:
    """A rebuild links a row to an earlier child run only when the run, the data and the outcome
    (status and trained_with: min_rows, versions, ...) are all the same (issue 17)."""
    from dbt_sweep.tracking.child_runs import log_child_runs
    from dbt_sweep.tracking.parent import _existing_runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_client = client(uri)
    experiment = mlflow_client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    first = mlflow_client.create_run(experiment).info.run_id
    ctx = replace(_context(uri, on_error="fail", parent=first), experiment_id=experiment,
                  trained_with="v1")  # fmt: skip
    [earlier] = log_child_runs(_result(), ["f1"], ctx)
    second = mlflow_client.create_run(experiment).info.run_id
    existing = _existing_runs(mlflow_client, experiment, "sweep_runs")
    ctx = replace(ctx, parent_run_id=second, existing=existing, trained_with=trained_with)
    [again] = log_child_runs(_result().assign(status=status), ["f1"], ctx)
    assert (again == earlier) is reused
