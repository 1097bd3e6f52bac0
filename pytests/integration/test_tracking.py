"""MLflow tracking through real dbt builds: the embedded store, a real `mlflow server`, and faults.

No mocks: every class builds a small sweep with dbt on the embedded Spark and reads MLflow back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dbt.tests.util import run_dbt
from mlflow import MlflowClient

from dbt_sweep.serialize import load_model

pytestmark = pytest.mark.integration


def _rows(store: str, n: int, slope: float) -> list[str]:
    rng = np.random.default_rng(abs(hash(store)) % 1000)
    return [f"{store},{i},{a:.4f},{b:.4f},{slope * a - b + 0.1 * e:.4f}"
            for i, (a, b, e) in enumerate(rng.normal(size=(n, 3)))]  # fmt: skip


SALES_CSV = "\n".join(["store,row_id,a,b,t", *_rows("s1", 40, 2.0), *_rows("s2", 40, -1.0),
                       *_rows("s3", 40, 0.5)]) + "\n"  # fmt: skip

MANIFEST_PY = """\
import dbt_sweep.sweep


def model(dbt, session):
    return dbt_sweep.sweep.sweep_manifest(dbt.ref("sales"), dbt.config.get("sweep"), model=dbt.this.identifier)
"""

RUNS_PY = """\
import dbt_sweep.sweep


def model(dbt, session):
    spec = dbt.config.get("sweep")
    manifest = dbt.ref("sales_manifest")
    return dbt_sweep.sweep.sweep_runs(dbt.ref("sales"), manifest, spec, model=dbt.this.identifier)
"""

SPEC = """\
        source: sales
        group_by: store
        key: row_id
        target: t
        task: regression
        features: [a, b]
        estimators:
          - estimator: sklearn.linear_model.Ridge
            grid: {{alpha: [0.1, 10.0]}}
          - estimator: sklearn.tree.DecisionTreeRegressor
            params: {{random_state: 0}}
            grid: {{max_depth: [2, 4]}}
          - name: broken
            estimator: sklearn.linear_model.PoissonRegressor
        preprocessing: {{scale: standard}}
        split: {{kind: random, test_size: 0.25, seed: 1}}
        metrics: [rmse, mae, r2]
        min_rows: 10
        tracking: {tracking}
"""


def _schema(**runs_models: str) -> str:
    """A manifest model and one runs model per (name -> tracking mapping), all on the same spec."""
    out = ["version: 2", "models:", "  - name: sales_manifest", "    config:", "      sweep:",
           SPEC.format(tracking="{enabled: false}").rstrip()]  # fmt: skip
    for name, tracking in runs_models.items():
        out += [f"  - name: {name}", "    config:", "      sweep:", SPEC.format(tracking=tracking).rstrip()]
    return "\n".join(out) + "\n"


def _frame(project, table: str) -> pd.DataFrame:
    rows = project.run_sql(f"select * from {project.test_schema}.{table}", fetch="all")
    return pd.DataFrame([row.asDict() for row in rows])


def _children(client: MlflowClient, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


class _Base:
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"sales.csv": SALES_CSV}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+file_format": "parquet"}, "seeds": {"+file_format": "parquet"}}


def _check_runs_match_table(client: MlflowClient, runs: pd.DataFrame, manifest: pd.DataFrame, experiment: str):
    children = _children(client, experiment)
    assert len(children) == len(manifest) == 3 * 5
    by_id = {r.info.run_id: r for r in children}
    assert set(runs["mlflow_run_id"]) == set(by_id)
    for row in runs.to_dict("records"):
        run = by_id[row["mlflow_run_id"]]
        assert run.data.tags["run_key"] == row["run_key"]
        assert run.data.tags["status"] == row["status"]
        assert run.data.tags["group.store"] == row["store"]
        assert run.data.params == {k: json.dumps(v) for k, v in json.loads(row["params"]).items()}
        for metric in ("rmse", "mae", "r2"):
            if row["status"] == "ok":
                assert run.data.metrics[metric] == pytest.approx(row[metric], rel=1e-12)
            else:
                assert metric not in run.data.metrics
        if row["status"] == "failed":
            assert run.data.tags["error"] == row["error"]


def _check_winner_model(client: MlflowClient, project, runs: pd.DataFrame, uri: str) -> None:
    import mlflow
    import mlflow.sklearn

    ok = runs[runs["status"] == "ok"].sort_values(["rmse", "run_key"])
    winner = ok.groupby("store").head(1).sort_values("store").iloc[0]
    mlflow.set_tracking_uri(uri)
    logged = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{winner['mlflow_run_id']}'", output_format="list"
    )
    assert len(logged) == 1
    features = _frame(project, "sales")
    X = features[features["store"] == winner["store"]][["a", "b"]]
    expected = load_model(bytes(winner["model"])).predict(X)
    np.testing.assert_allclose(mlflow.sklearn.load_model(logged[0].model_uri).predict(X), expected)
    # only winners get models: one per group
    n_models = len(mlflow.search_logged_models(
        experiment_ids=[logged[0].experiment_id], output_format="list"))  # fmt: skip
    assert n_models == 3


class TestEmbeddedStore(_Base):
    """Default tracking: the embedded SQLite store in the project folder; a second build reuses runs."""

    @pytest.fixture(scope="class")
    def models(self):
        return {"sales_manifest.py": MANIFEST_PY, "sales_runs.py": RUNS_PY, "schema.yml": _schema(sales_runs="{}")}

    @pytest.fixture(scope="class")
    def built(self, project):
        results = run_dbt(["build"])
        return {r.node.name: r for r in results}

    def uri(self, project) -> str:
        return f"sqlite:///{Path(project.project_root) / 'mlflow.db'}"

    def test_child_runs_equal_the_table(self, project, built):
        assert str(built["sales_runs"].status) == "success"
        runs, manifest = _frame(project, "sales_runs"), _frame(project, "sales_manifest")
        _check_runs_match_table(MlflowClient(self.uri(project)), runs, manifest, "sales_runs")

    def test_parent_run_has_tags_figure_and_table(self, project, built):
        client = MlflowClient(self.uri(project))
        exp = client.get_experiment_by_name("sales_runs")
        parents = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
        assert len(parents) == 1
        parent = parents[0]
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["dbt.unique_id"] == "model.test.sales_runs"
        assert parent.data.tags["dbt.invocation_id"] == _frame(project, "sales_runs")["dbt_invocation_id"][0]
        assert {"dbt.target", "spec_hash"} <= set(parent.data.tags)
        assert parent.data.metrics["n_failed"] == 3
        names = {a.path for a in client.list_artifacts(parent.info.run_id)}
        assert names == {"primary_metric_by_group.png", "sweep_runs.csv"}

    def test_winner_model_loads_and_predicts_like_the_table(self, project, built):
        _check_winner_model(MlflowClient(self.uri(project)), project, _frame(project, "sales_runs"), self.uri(project))

    def test_second_build_reuses_unchanged_child_runs(self, project, built):
        before = _frame(project, "sales_runs").set_index("run_key")["mlflow_run_id"]
        run_dbt(["run", "-s", "sales_runs"])
        after = _frame(project, "sales_runs").set_index("run_key")["mlflow_run_id"]
        assert after.sort_index().equals(before.sort_index())
        client = MlflowClient(self.uri(project))
        assert len(_children(client, "sales_runs")) == 15
        exp = client.get_experiment_by_name("sales_runs")
        assert len(client.search_runs([exp.experiment_id])) == 15 + 2  # a parent run per invocation


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="class")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 and a free port; stopped after the class."""
    root = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--artifacts-destination", str(root / "mlartifacts")]  # fmt: skip
    log = open(root / "server.log", "wb")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        log.close()


class TestTrackingServer(_Base):
    """Tracking into a real MLflow server named by the spec."""

    @pytest.fixture(scope="class")
    def models(self, mlflow_server):
        tracking = f"{{uri: '{mlflow_server}', experiment: sales_remote}}"
        return {"sales_manifest.py": MANIFEST_PY, "sales_runs.py": RUNS_PY, "schema.yml": _schema(sales_runs=tracking)}

    def test_child_runs_and_winner_models_on_the_server(self, project, mlflow_server):
        results = {r.node.name: r for r in run_dbt(["build"])}
        assert str(results["sales_runs"].status) == "success"
        runs, manifest = _frame(project, "sales_runs"), _frame(project, "sales_manifest")
        client = MlflowClient(mlflow_server)
        _check_runs_match_table(client, runs, manifest, "sales_remote")
        _check_winner_model(client, project, runs, mlflow_server)
        assert not (Path(project.project_root) / "mlflow.db").exists()


class TestTrackingFaults(_Base):
    """An unreachable server fails the model with its URI; `on_error: warn` builds without tracking."""

    @pytest.fixture(scope="class")
    def down(self):
        return f"http://127.0.0.1:{_free_port()}"

    @pytest.fixture(scope="class")
    def models(self, down):
        schema = _schema(
            runs_fail=f"{{uri: '{down}'}}",
            runs_warn=f"{{uri: '{down}', on_error: warn}}",
        )
        return {"sales_manifest.py": MANIFEST_PY, "runs_fail.py": RUNS_PY, "runs_warn.py": RUNS_PY,
                "schema.yml": schema}  # fmt: skip

    @pytest.fixture(scope="class")
    def built(self, project):
        return {r.node.name: r for r in run_dbt(["build"], expect_pass=False)}

    def test_unreachable_server_fails_with_its_uri(self, built, down):
        result = built["runs_fail"]
        assert str(result.status) == "error"
        assert f"MLflow tracking for model 'runs_fail' failed at tracking URI '{down}'" in result.message
        assert "set sweep.tracking.on_error: warn" in result.message

    def test_warn_trains_and_materialises_without_tracking(self, project, built):
        assert str(built["runs_warn"].status) == "success"
        runs = _frame(project, "runs_warn")
        assert len(runs) == 15
        assert runs["mlflow_run_id"].isna().all()
        assert (runs["status"] == "ok").sum() == 12
