"""The README's demo as a test: the repository's own dbt project, built once on the embedded Spark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dbt.tests.util import run_dbt

from dbt_sweep.serialize import load_model

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _folder(path: Path, suffixes: tuple[str, ...] = (".sql", ".py", ".yml", ".md")) -> dict:
    """A dbt test-project `models` dict mirroring a folder of the repository."""
    tree: dict = {}
    for item in sorted(path.iterdir()):
        if item.is_dir():
            tree[item.name] = _folder(item, suffixes)
        elif item.suffix in suffixes:
            tree[item.name] = item.read_text()
    return tree


class TestDemoBuild:
    @pytest.fixture(scope="class")
    def models(self):
        return {**_folder(REPO / "models"), "python": _folder(REPO / "python_models")}

    @pytest.fixture(scope="class")
    def seeds(self):
        return {path.name: path.read_text() for path in (REPO / "seeds").glob("*.csv")}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+file_format": "parquet"}, "seeds": {"+file_format": "parquet"}}

    @pytest.fixture(scope="class")
    def built(self, project):
        results = run_dbt(["build"])
        return {result.node.name: result for result in results}

    def frame(self, project, sql: str) -> pd.DataFrame:
        schema = project.test_schema
        rows = project.run_sql(sql.format(schema=schema), fetch="all")
        return pd.DataFrame([row.asDict() for row in rows])

    def test_build_is_green_and_runs_every_model(self, built):
        for name in ("sweep_manifest", "sweep_runs", "model_runs", "best_models"):
            assert str(built[name].status) == "success", name
        failing = {name: r.message for name, r in built.items() if str(r.status) not in ("success", "pass")}
        assert failing == {}

    def test_one_run_per_manifest_row_and_the_broken_estimator_fails_alone(self, project, built):
        runs = self.frame(project, "select * from {schema}.sweep_runs")
        manifest = self.frame(project, "select * from {schema}.sweep_manifest")
        assert len(runs) == len(manifest) == 10 * (1 + 6 + 1)
        assert sorted(runs["run_key"]) == sorted(manifest["run_key"])
        broken = runs[runs["estimator_name"] == "poisson_broken"]
        assert set(broken["status"]) == {"failed"}
        assert broken["error"].str.startswith("ValueError: Some value(s) of y are out of the valid range").all()
        others = runs[runs["estimator_name"] != "poisson_broken"]
        assert set(others["status"]) == {"ok"}
        assert others[["rmse", "mae", "r2", "primary_metric"]].notna().all().all()
        assert (others["primary_metric"] == others["rmse"]).all()
        assert (others[["n_train", "n_test"]].to_numpy() == [80, 20]).all()

    def test_best_model_per_group_is_the_lowest_rmse_ok_run(self, project, built):
        runs = self.frame(project, "select * from {schema}.sweep_runs where status = 'ok'")
        best = self.frame(project, "select * from {schema}.best_models")
        assert len(best) == 10
        expected = runs.sort_values(["rmse", "run_key"]).groupby("group_id").head(1)
        assert dict(zip(best["group_id"], best["run_key"])) == dict(
            zip(expected["group_id"], expected["run_key"])
        )

    def test_stored_model_loads_safely_and_reproduces_its_scores(self, project, built):
        best = self.frame(project, "select group_id, model, params from {schema}.best_models")
        row = best.sort_values("group_id").iloc[0]
        pipeline = load_model(bytes(row["model"]))
        features = self.frame(
            project, f"select * from {{schema}}.feat_demo_regression where group_id = '{row['group_id']}'"
        )
        predictions = pipeline.predict(features[[f"x{i}" for i in range(8)]])
        assert predictions.shape == (100,)
        assert np.corrcoef(predictions, features["y"])[0, 1] > 0.9
        assert isinstance(json.loads(row["params"]), dict)

    def test_classification_sweep_is_all_ok_with_cross_validated_metrics(self, project, built):
        runs = self.frame(project, "select * from {schema}.diagnosis_sweep_runs")
        assert len(runs) == 4 * (3 + 2)
        assert set(runs["status"]) == {"ok"}
        assert (runs["roc_auc"] > 0.9).all()
        best = self.frame(project, "select * from {schema}.diagnosis_best_models")
        assert sorted(best["cohort"]) == ["c0", "c1", "c2", "c3"]
        assert set(best["primary_direction"]) == {"maximize"}

    def test_run_keys_are_the_same_in_the_next_build(self, project, built):
        before = set(self.frame(project, "select run_key from {schema}.sweep_manifest")["run_key"])
        run_dbt(["run", "-s", "sweep_manifest"])
        after = set(self.frame(project, "select run_key from {schema}.sweep_manifest")["run_key"])
        assert before == after
