"""MLflow tracking through real dbt builds: the embedded store, a real `mlflow server`, faults, retries.

No mocks: dbt builds small sweeps on the embedded Spark and the tests read MLflow back. The tests
that only read share ONE build of one project (`TestTracking.built`): a model tracked into the
embedded store, one into a real `mlflow server`, and two whose server is down (`on_error: fail` and
`warn`); the tests that build again run last in the class. Two builds need more than that process:
a second project built in the same process (each must log into its own `mlflow.db`), and a build
whose Spark tasks are retried (`test_retried_tasks_leave_one_child_run_per_manifest_row`, a dbt
subprocess: task retries are a SparkContext setting, and the in-process context exists already).
That subprocess starts with the module and runs while the in-process builds do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from dbt.tests.util import run_dbt
from mlflow import MlflowClient
from mlflow.entities import ViewType

from dbt_sweep.training.serialize import load_model

from projects import (
    REPO,
    ParquetProject,
    free_port,
    sales_csv,
    sales_spec,
    sweep_models,
    table,
    write_files,
)

pytestmark = pytest.mark.integration


SPEC = sales_spec("""\
estimators:
  - estimator: sklearn.linear_model.Ridge
    grid: {alpha: [0.1, 10.0]}
  - estimator: sklearn.tree.DecisionTreeRegressor
    params: {random_state: 0}
    grid: {max_depth: [2, 4]}
  - name: broken
    estimator: sklearn.linear_model.PoissonRegressor
preprocessing: {scale: standard}
metrics: [rmse, mae, r2]
tracking: {enabled: false}
""")


def _models(**tracking: dict) -> dict[str, str]:
    """A manifest model and one runs model per (name -> tracking mapping), all on the same spec."""
    return sweep_models(
        SPEC,
        {"sales_manifest": None, **dict.fromkeys(tracking, "sales_manifest")},
        changes={name: {"tracking": value} for name, value in tracking.items()},
    )


def _children(client: MlflowClient, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


class _Base(ParquetProject):
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"sales.csv": sales_csv()}


def _check_runs_match_table(
    client: MlflowClient, runs: pd.DataFrame, manifest: pd.DataFrame, experiment: str
):
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


def _check_winner_model(
    client: MlflowClient, project, runs: pd.DataFrame, uri: str, experiment: str
) -> None:
    # Through the client and explicit URIs: mlflow.set_tracking_uri would leave this store in
    # $MLFLOW_TRACKING_URI for every later test in the process.
    import mlflow.artifacts
    import mlflow.sklearn

    ok = runs[runs["status"] == "ok"].sort_values(["rmse", "run_key"])
    winner = ok.groupby("store").head(1).sort_values("store").iloc[0]
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    logged = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{winner['mlflow_run_id']}'"
    )
    assert len(logged) == 1
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=logged[0].artifact_location, tracking_uri=uri
    )
    features = table(project, "sales")
    X = features[features["store"] == winner["store"]][["a", "b"]]
    expected = load_model(bytes(winner["model"])).predict(X)
    np.testing.assert_allclose(mlflow.sklearn.load_model(local).predict(X), expected)
    # only winners get models: one per group
    assert len(client.search_logged_models([experiment_id])) == 3


class TestTracking(_Base):
    """One build for every read-only test: ``sales_runs`` logs into the embedded store (the default),
    ``sales_remote`` into a real `mlflow server`, ``runs_fail``/``runs_warn`` to a server nobody
    listens on. The tests that build again come last: they add parent runs and a second project."""

    @pytest.fixture(scope="class")
    def down(self):
        return f"http://127.0.0.1:{free_port()}"

    @pytest.fixture(scope="class")
    def models(self, mlflow_server_starting, down):
        return _models(
            sales_runs={},
            sales_remote={"uri": mlflow_server_starting.uri, "experiment": "sales_remote"},
            runs_fail={"uri": down},
            runs_warn={"uri": down, "on_error": "warn"},
        )

    @pytest.fixture(scope="class")
    def tracking_uri_env_before(self, project):
        return os.environ.get("MLFLOW_TRACKING_URI")

    @pytest.fixture(scope="class")
    def built(self, project, mlflow_server, tracking_uri_env_before):
        return {r.node.name: r for r in run_dbt(["build"], expect_pass=False)}  # runs_fail fails

    def uri(self, project) -> str:
        return f"sqlite:///{Path(project.project_root) / 'mlflow.db'}"

    def test_child_runs_equal_the_table(self, project, built):
        assert str(built["sales_runs"].status) == "success"
        runs, manifest = table(project, "sales_runs"), table(project, "sales_manifest")
        _check_runs_match_table(MlflowClient(self.uri(project)), runs, manifest, "sales_runs")

    def test_parent_run_has_tags_figure_and_table(self, project, built):
        client = MlflowClient(self.uri(project))
        exp = client.get_experiment_by_name("sales_runs")
        parents = [
            r
            for r in client.search_runs([exp.experiment_id])
            if "mlflow.parentRunId" not in r.data.tags
        ]
        assert len(parents) == 1
        parent = parents[0]
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["dbt.unique_id"] == "model.test.sales_runs"
        assert (
            parent.data.tags["dbt.invocation_id"]
            == table(project, "sales_runs")["dbt_invocation_id"][0]
        )
        assert {"dbt.target", "spec_hash"} <= set(parent.data.tags)
        assert parent.data.metrics["n_failed"] == 3
        names = {a.path for a in client.list_artifacts(parent.info.run_id)}
        assert names == {"primary_metric_by_group.png", "sweep_runs.csv"}

    def test_winner_model_loads_and_predicts_like_the_table(self, project, built):
        uri = self.uri(project)
        _check_winner_model(
            MlflowClient(uri), project, table(project, "sales_runs"), uri, "sales_runs"
        )

    def test_child_runs_and_winner_models_on_the_server(self, project, built, mlflow_server):
        assert str(built["sales_remote"].status) == "success"
        runs, manifest = table(project, "sales_remote"), table(project, "sales_manifest")
        client = MlflowClient(mlflow_server)
        _check_runs_match_table(client, runs, manifest, "sales_remote")
        _check_winner_model(client, project, runs, mlflow_server, "sales_remote")
        # the retry cleanup's search through the server touched this build's child runs only
        exp = client.get_experiment_by_name("sales_remote")
        parents = [
            r
            for r in client.search_runs([exp.experiment_id])
            if "mlflow.parentRunId" not in r.data.tags
        ]
        assert [r.info.status for r in parents] == ["FINISHED"]
        # each sweep logged where its spec said, and only there
        assert client.get_experiment_by_name("sales_runs") is None
        assert MlflowClient(self.uri(project)).get_experiment_by_name("sales_remote") is None

    def test_unreachable_server_fails_with_its_uri(self, built, down):
        result = built["runs_fail"]
        assert str(result.status) == "error"
        assert (
            f"MLflow tracking for model 'runs_fail' failed at tracking URI '{down}'"
            in result.message
        )
        assert "set sweep.tracking.on_error: warn" in result.message

    def test_warn_trains_and_materialises_without_tracking(self, project, built):
        assert str(built["runs_warn"].status) == "success"
        runs = table(project, "runs_warn")
        assert len(runs) == 15
        assert runs["mlflow_run_id"].isna().all()
        assert (runs["status"] == "ok").sum() == 12

    def test_logging_leaves_the_process_tracking_uri_as_it_was(
        self, built, tracking_uri_env_before
    ):
        # mlflow.set_tracking_uri exports $MLFLOW_TRACKING_URI; left set by a sweep, it sent the next
        # project built in this process to this project's store (see the second-project test)
        assert os.environ.get("MLFLOW_TRACKING_URI") == tracking_uri_env_before

    def test_second_build_reuses_unchanged_child_runs(self, project, built):
        before = table(project, "sales_runs").set_index("run_key")["mlflow_run_id"]
        run_dbt(["run", "-s", "sales_runs"])
        after = table(project, "sales_runs").set_index("run_key")["mlflow_run_id"]
        assert after.sort_index().equals(before.sort_index())
        client = MlflowClient(self.uri(project))
        assert len(_children(client, "sales_runs")) == 15
        exp = client.get_experiment_by_name("sales_runs")
        assert len(client.search_runs([exp.experiment_id])) == 15 + 2  # a parent run per invocation

    def test_a_second_project_in_the_same_process_logs_into_its_own_store(
        self, project, built, tmp_path
    ):
        """Regression: after this class's build had logged its winner models, a second project built
        in the same process logged into THIS project's mlflow.db (model logging had left it in
        $MLFLOW_TRACKING_URI, which the second sweep took for the user's choice), so a client on the
        second project's mlflow.db found no experiment. Last in the class: run_dbt's default
        project is the second one afterwards."""
        first = MlflowClient(self.uri(project))
        first_experiment = first.get_experiment_by_name("sales_runs").experiment_id
        first_runs = {
            r.info.run_id for r in first.search_runs([first_experiment], max_results=1000)
        }
        root = _second_project(project, tmp_path / "second")
        schema = f"{project.test_schema}_second"
        project.created_schemas.append(schema)  # dropped with the test schema
        results = {r.node.name: r for r in run_dbt(["build", "--project-dir", str(root)])}
        assert str(results["sales_runs"].status) == "success"
        assert (root / "mlflow.db").exists(), "the second project logged into another store"
        runs = table(project, "sales_runs", schema=schema)
        manifest = table(project, "sales_manifest", schema=schema)
        _check_runs_match_table(
            MlflowClient(f"sqlite:///{root / 'mlflow.db'}"), runs, manifest, "sales_runs"
        )
        assert {
            r.info.run_id for r in first.search_runs([first_experiment], max_results=1000)
        } == first_runs


def _second_project(project, root: Path) -> Path:
    """The test project's seeds and macros with only the embedded-store sweep, its tables in the
    ``<test schema>_second`` schema (dbt's default generate_schema_name)."""
    source = Path(project.project_root)
    config = yaml.safe_load((source / "dbt_project.yml").read_text())
    config["name"] = "second"
    for kind in ("models", "seeds"):
        config.setdefault(kind, {})["+schema"] = "second"
    root.mkdir(parents=True)
    (root / "dbt_project.yml").write_text(yaml.safe_dump(config))
    for folder in ("seeds", "macros"):
        shutil.copytree(source / folder, root / folder)
    write_files(root / "models", _models(sales_runs={}))
    return root


class _Server:
    """A real `mlflow server` process on 127.0.0.1: started at once, waited for when first used."""

    def __init__(self, root: Path) -> None:
        port = free_port()
        self.uri = f"http://127.0.0.1:{port}"
        self.log_path = root / "server.log"
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                   "--artifacts-destination", str(root / "mlartifacts")]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=root
        )

    def wait_ready(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return self.uri
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server did not start: {self.log_path.read_text()[-2000:]}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.log.close()


@pytest.fixture(scope="class")
def mlflow_server_starting(tmp_path_factory):
    """A real `mlflow server`, starting (~30 s on a busy 2-core machine) while the project and the
    Spark session are set up; stopped after the class."""
    server = _Server(tmp_path_factory.mktemp("mlflow_server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="class")
def mlflow_server(mlflow_server_starting) -> str:
    """The URI of the class's `mlflow server`, once it answers."""
    return mlflow_server_starting.wait_ready()


# A Ridge whose FIRST attempt of a Spark task kills its Python worker at the task's second unit, once
# per dbt model (per Spark job group: a marker file only the first crash creates). A task trains and
# logs its units one after another, so by then the first unit's child runs and winner model are in
# MLflow; Spark reruns the task (spark.task.maxFailures 2), which logs that unit again.
CRASH_ONCE_PY = """\
import os
import zlib
from pathlib import Path

import numpy as np
from pyspark import TaskContext
from sklearn.linear_model import Ridge

_UNITS_SEEN = {}  # task attempt id -> fingerprints of the training data fitted in that attempt
_CRASHED = Path(__file__).with_name("crashed")


class CrashOnceRidge(Ridge):
    def fit(self, X, y, sample_weight=None):
        task = TaskContext.get()
        if task is not None and task.attemptNumber() == 0:
            seen = _UNITS_SEEN.setdefault(task.taskAttemptId(), set())
            seen.add(zlib.crc32(np.ascontiguousarray(X, dtype=float).tobytes()))
            if len(seen) > 1:
                _CRASHED.mkdir(exist_ok=True)
                try:
                    marker = os.open(_CRASHED / str(task.getLocalProperty("spark.jobGroup.id")), os.O_CREAT | os.O_EXCL)
                except FileExistsError:
                    pass
                else:
                    os.close(marker)
                    os._exit(3)  # a worker dying mid-task, after the task's first unit was logged
        return super().fit(X, y, sample_weight=sample_weight)
"""

RETRY_STORES = 9  # units; local[2,2] deals them to 8 tasks, so one task trains two
RETRY_SPEC = sales_spec("""\
allowed_modules: ["sklearn.", "crash_once."]
estimators:
  - estimator: sklearn.linear_model.Ridge
    grid: {alpha: [0.1, 10.0]}
  - estimator: crash_once.CrashOnceRidge
    params: {alpha: 1000.0}  # never a winner: only sklearn types may be logged as models
metrics: [rmse]
""")
# Workers log each group's winner (a unit is a whole group) into its child run, or at level sweep
# into the parent run: a retried unit leaves duplicate runs in one, duplicate models in the other.
RETRY_TRACKING = {
    "sales_manifest": {"enabled": False},
    "sales_runs": {"register": True},
    "sales_sweep": {"level": "sweep", "register": True, "experiment": "sales_sweep"},
}
DBT = str(Path(sys.executable).with_name("dbt"))


def _retry_project(root: Path) -> Path:
    """A project whose dbt build runs as a subprocess with profiles.example.yml's ``local`` target,
    on ``local[2,2]`` (a failed task is retried once), in its own ``.spark`` folder (Derby admits
    one process at a time)."""
    example = yaml.safe_load((REPO / "profiles.example.yml").read_text())
    target = example["sweep"]["outputs"]["local"]
    target["schema"] = "retry"
    target["server_side_parameters"]["spark.master"] = "local[2,2]"
    (root / "helpers").mkdir(parents=True)
    (root / "profiles.yml").write_text(
        yaml.safe_dump({"sweep": {"target": "local", "outputs": {"local": target}}})
    )
    (root / "dbt_project.yml").write_text(yaml.safe_dump({
        "name": "retry", "profile": "sweep", "config-version": 2,
        "models": {"+file_format": "parquet"}, "seeds": {"+file_format": "parquet"},
    }))  # fmt: skip
    shutil.copytree(REPO / "macros", root / "macros")
    slopes = {f"s{i:02d}": 0.5 + i for i in range(RETRY_STORES)}
    write_files(root / "seeds", {"sales.csv": sales_csv(slopes)})
    models = {
        "sales_manifest": None,
        "sales_runs": "sales_manifest",
        "sales_sweep": "sales_manifest",
    }
    changes = {name: {"tracking": tracking} for name, tracking in RETRY_TRACKING.items()}
    write_files(root / "models", sweep_models(RETRY_SPEC, models, changes=changes))
    (root / "helpers" / "crash_once.py").write_text(CRASH_ONCE_PY)
    return root


RETRY_TEST = "test_retried_tasks_leave_one_child_run_per_manifest_row"


@pytest.fixture(scope="module", autouse=True)
def retried_build(request, tmp_path_factory):
    """The retry project's `dbt build`, started when the module starts (if its test is selected), so
    it runs while the in-process builds do; yields (project folder, process)."""
    selected = any(item.name == RETRY_TEST and getattr(item, "module", None) is request.module
                   for item in request.session.items)  # fmt: skip
    if not selected:
        yield None
        return
    root = _retry_project(tmp_path_factory.mktemp("retry") / "project")
    drop = ("MLFLOW_TRACKING_URI", "SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "DBT_PROFILES_DIR")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "helpers"), env.get("PYTHONPATH")])),
        "SWEEP_SPARK_DIR": str(root / ".spark"), "SWEEP_DRIVER_MEMORY": "1g", "SPARK_LOCAL_IP": "127.0.0.1",
    })  # fmt: skip
    with open(root / "build.log", "wb") as log:
        process = subprocess.Popen(
            [DBT, "build", "--project-dir", str(root), "--profiles-dir", str(root)],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield root, process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def test_retried_tasks_leave_one_child_run_per_manifest_row(retried_build):
    """Issue #7's fault on the tracking side: a Python worker dies after its task logged a unit's
    child runs and winner model; Spark reruns the task, which logs them again. The table keeps one
    row per manifest row, and so must MLflow: the dead attempt's runs and models are deleted, the
    table's kept (at level sweep: one model per group on the parent run)."""
    root, process = retried_build
    returncode = process.wait(timeout=1200)
    output = (root / "build.log").read_text(errors="replace")
    assert returncode == 0, output[-5000:]
    # the fault happened once in each model: a worker died with a unit of its task logged
    assert len(list((root / "helpers" / "crashed").iterdir())) == len(RETRY_TRACKING) - 1
    tables = root / ".spark" / "warehouse" / "retry.db"
    runs = pd.read_parquet(tables / "sales_runs", columns=["run_key", "status", "mlflow_run_id"])
    manifest = pd.read_parquet(tables / "sales_manifest", columns=["run_key"])
    assert len(runs) == len(manifest) == RETRY_STORES * 3
    assert (runs["status"] == "ok").all()

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sales_runs").experiment_id
    (parent,) = [
        r for r in client.search_runs([experiment]) if "mlflow.parentRunId" not in r.data.tags
    ]
    of_parent = f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    deleted = client.search_runs(
        [experiment], of_parent, run_view_type=ViewType.DELETED_ONLY, max_results=1000
    )
    # the fault happened: some unit was logged by a first attempt that Spark then retried
    assert deleted, f"no task attempt logged child runs and died:\n{output[-5000:]}"
    assert {r.data.tags["run_key"] for r in deleted} <= set(runs["run_key"])
    active = client.search_runs([experiment], of_parent, max_results=1000)
    assert sorted(r.info.run_id for r in active) == sorted(runs["mlflow_run_id"])
    assert sorted(r.data.tags["run_key"] for r in active) == sorted(manifest["run_key"])
    # one winner model per group, registered once, both from runs the table references
    table_ids = set(runs["mlflow_run_id"])
    models = client.search_logged_models([experiment])
    assert len(models) == RETRY_STORES and {m.source_run_id for m in models} <= table_ids
    versions = client.search_model_versions("name LIKE 'sales_runs-%'")
    assert len(versions) == RETRY_STORES and {v.run_id for v in versions} <= table_ids
    assert (
        f"Deleted {len(deleted)} MLflow child run(s) of parent run {parent.info.run_id}" in output
    )

    # level sweep: each group's winner once on the parent run, registered once
    sweep = client.get_experiment_by_name("sales_sweep").experiment_id
    (sweep_parent,) = client.search_runs([sweep])
    names = [m.name for m in client.search_logged_models([sweep])]
    assert len(names) == len(set(names)) == RETRY_STORES
    assert len(client.search_model_versions("name LIKE 'sales_sweep-%'")) == RETRY_STORES
    assert f"MLflow model(s) of parent run {sweep_parent.info.run_id}" in output  # retried too
