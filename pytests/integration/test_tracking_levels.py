"""MLflow tracking levels `groups` and `sweep`, `register: true`, and search trials, through one real
dbt build on the embedded Spark and store (no mocks).

Three tracked models share the data: `runs_groups` (level groups, registered winners; groups are
sharded, so the driver logs the models), `runs_sweep` (level sweep; `shards: 1`, so each unit is a
whole group and the Spark workers log the winners) and `runs_runs` (level runs, for the trials'
metric history). Every spec has a random-search estimator, whose trials must show at each level.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from dbt.tests.util import run_dbt
from mlflow import MlflowClient

from dbt_sweep.training.serialize import load_model

from projects import STORE_SLOPES, ParquetProject, sales_csv, sales_spec, sweep_models, table

pytestmark = pytest.mark.integration

STORES = STORE_SLOPES

SPEC = sales_spec("""\
estimators:
  - estimator: sklearn.linear_model.Ridge
    grid: {alpha: [0.1, 10.0]}
  - name: ridge_search
    estimator: sklearn.linear_model.Ridge
    search: random
    trials: 4
    space: {alpha: {float: [0.01, 10.0], log: true}}
  - estimator: sklearn.tree.DecisionTreeRegressor
    params: {random_state: 0}
    grid: {max_depth: [2, 4]}
preprocessing: {scale: standard}
metrics: [rmse, mae, r2]
""")
MODELS = {  # name -> (manifest, shards, tracking)
    "manifest_auto": (None, "auto", {"enabled": False}),
    "manifest_whole": (None, 1, {"enabled": False}),
    "runs_groups": ("manifest_auto", "auto", {"level": "groups", "register": True}),
    "runs_sweep": ("manifest_whole", 1, {"level": "sweep"}),
    "runs_runs": ("manifest_auto", "auto", {"level": "runs", "log_models": "none"}),
}
RUNS_PER_GROUP = 5


def _table(client: MlflowClient, run_id: str, name: str, tmp_path: Path) -> pd.DataFrame:
    return pd.read_json(client.download_artifacts(run_id, name, str(tmp_path)), orient="split")


def _winners(runs: pd.DataFrame) -> pd.DataFrame:
    ok = runs[runs["status"] == "ok"].sort_values(["rmse", "run_key"])
    return ok.groupby("store").head(1).set_index("store")


class TestTrackingLevels(ParquetProject):
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"sales.csv": sales_csv()}

    @pytest.fixture(scope="class")
    def models(self):
        return sweep_models(
            SPEC,
            {name: manifest for name, (manifest, _, _) in MODELS.items()},
            changes={
                name: {"shards": shards, "tracking": tracking}
                for name, (_, shards, tracking) in MODELS.items()
            },
        )

    @pytest.fixture(scope="class")
    def built(self, project):
        results = {r.node.name: r for r in run_dbt(["build"])}
        assert all(str(r.status) == "success" for r in results.values())
        return MlflowClient(f"sqlite:///{Path(project.project_root) / 'mlflow.db'}")

    def _parent(self, client: MlflowClient, experiment: str):
        exp = client.get_experiment_by_name(experiment)
        runs = client.search_runs([exp.experiment_id])
        return (
            exp,
            [r for r in runs if "mlflow.parentRunId" not in r.data.tags],
            [r for r in runs if "mlflow.parentRunId" in r.data.tags],
        )

    def test_groups_level_one_run_per_group_with_winner_model_and_trials(
        self, project, built, tmp_path
    ):
        """A group run per group carries the winner's params and metrics, its model (registered as a
        version of the group's model), and the group's trials as one table."""
        runs = table(project, "runs_groups")
        exp, parents, children = self._parent(built, "runs_groups")
        assert len(parents) == 1 and len(children) == len(STORES)
        by_store = {r.data.tags["group.store"]: r for r in children}
        assert {row["store"]: row["mlflow_run_id"] for row in runs.to_dict("records")} == {
            s: r.info.run_id for s, r in by_store.items()}  # fmt: skip
        for store, winner in _winners(runs).iterrows():
            run = by_store[store]
            assert run.data.tags["winner_run_key"] == winner["run_key"]
            assert run.data.metrics["rmse"] == pytest.approx(winner["rmse"], rel=1e-12)
            assert run.data.metrics["n_ok"] == RUNS_PER_GROUP
            trials = _table(built, run.info.run_id, "trials.json", tmp_path)
            search = runs[
                (runs["store"] == store) & (runs["estimator_name"] == "ridge_search")
            ].iloc[0]
            assert trials["run_key"].unique().tolist() == [search["run_key"]]
            assert trials["value"].tolist() == pytest.approx(
                [t["value"] for t in json.loads(search["trials"])]
            )
            version = built.get_model_version(f"runs_groups-{store}", "1")
            assert version.run_id == run.info.run_id
            X = table(project, "sales").query("store == @store")[["a", "b"]]
            np.testing.assert_allclose(
                mlflow.sklearn.load_model(
                    built.get_model_version_download_uri(version.name, "1")
                ).predict(X),
                load_model(bytes(winner["model"])).predict(X),
            )

    def test_sweep_level_parent_only_with_results_trials_and_worker_logged_models(
        self, project, built, tmp_path
    ):
        """Only the parent run: every row points at it; it holds the results, the trials of every
        search run as one table, the figure, and one winner model per group (logged by the workers)."""
        runs = table(project, "runs_sweep")
        exp, parents, children = self._parent(built, "runs_sweep")
        assert len(parents) == 1 and children == []
        parent = parents[0]
        assert set(runs["mlflow_run_id"]) == {parent.info.run_id}
        names = {a.path for a in built.list_artifacts(parent.info.run_id)}
        assert {"sweep_runs.csv", "trials.json", "primary_metric_by_group.png"} <= names
        trials = _table(built, parent.info.run_id, "trials.json", tmp_path)
        search = runs[runs["estimator_name"] == "ridge_search"]
        assert sorted(set(trials["run_key"])) == sorted(search["run_key"])
        assert len(trials) == 4 * len(STORES)
        assert json.loads(parent.data.tags["mlflow.loggedArtifacts"]) == [
            {"path": "trials.json", "type": "table"}
        ]
        models = built.search_logged_models([exp.experiment_id])
        winners = _winners(runs)
        assert sorted(m.name for m in models) == sorted(
            f"model-{store}-{row['run_key'][:8]}" for store, row in winners.iterrows())  # fmt: skip
        assert {m.source_run_id for m in models} == {parent.info.run_id}

    def test_runs_level_search_run_has_trial_history(self, project, built):
        """At level runs a search run's child run plots its trials: `trial_value` by trial number."""
        runs = table(project, "runs_runs")
        search = runs[runs["estimator_name"] == "ridge_search"].iloc[0]
        history = built.get_metric_history(search["mlflow_run_id"], "trial_value")
        trials = json.loads(search["trials"])
        assert sorted((m.step, m.value) for m in history) == [
            (t["number"], t["value"]) for t in trials
        ]
