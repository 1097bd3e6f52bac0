"""The README's demo as a test: the repository's own dbt project, built once on the embedded Spark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from dbt.tests.util import run_dbt, write_file

from dbt_sweep.spec import parse_spec
from dbt_sweep.training.serialize import load_model
from dbt_sweep.training.unit import holdout_rows

from projects import REPO, ParquetProject, predictions_py, query

pytestmark = pytest.mark.integration


def _folder(path: Path, suffixes: tuple[str, ...] = (".sql", ".py", ".yml", ".md")) -> dict:
    """A dbt test-project `models` dict mirroring a folder of the repository."""
    tree: dict = {}
    for item in sorted(path.iterdir()):
        if item.is_dir():
            tree[item.name] = _folder(item, suffixes)
        elif item.suffix in suffixes:
            tree[item.name] = item.read_text()
    return tree


def regression_spec() -> dict:
    specs = yaml.safe_load((REPO / "python_models" / "_python_models__models.yml").read_text())
    return next(m["config"]["sweep"] for m in specs["models"] if m["name"] == "sweep_runs")


class _DemoProject(ParquetProject):
    """The repository's project as a dbt test project (fixtures only; subclasses hold the tests)."""

    @pytest.fixture(scope="class")
    def models(self):
        extra = {
            "models": [
                {
                    "name": "training_rows_predictions",
                    "config": {
                        "sweep": regression_spec(),
                        "scoring": {"source": "feat_demo_regression"},
                    },
                }
            ]
        }
        return {
            **_folder(REPO / "models"),
            "python": _folder(REPO / "python_models"),
            "consistency": {
                # Scores the training rows themselves, through the same predictions code as the demo, so
                # the winners' held-out rows can be checked against the metrics sweep_runs recorded.
                "training_rows_predictions.py": predictions_py(
                    "feat_demo_regression", "best_models"
                ),
                "_consistency__models.yml": yaml.safe_dump({"version": 2, **extra}),
            },
        }

    @pytest.fixture(scope="class")
    def seeds(self):
        return {path.name: path.read_text() for path in (REPO / "seeds").glob("*.csv")}

    def frame(self, project, sql: str) -> pd.DataFrame:
        return query(project, sql.format(schema=project.test_schema))


class TestDemoBuild(_DemoProject):
    @pytest.fixture(scope="class")
    def built(self, project):
        results = run_dbt(["build"])
        return {result.node.name: result for result in results}

    def test_build_is_green_and_runs_every_model(self, built):
        for name in ("sweep_manifest", "sweep_runs", "model_runs", "best_models"):
            assert str(built[name].status) == "success", name
        failing = {
            name: r.message for name, r in built.items() if str(r.status) not in ("success", "pass")
        }
        assert failing == {}

    def test_docs_document_every_column_of_every_sweep_table_from_doc_blocks(self, project, built):
        """`dbt docs generate` on the built demo: each column the warehouse has in a sweep table
        (catalog.json) has a description, rendered from a doc block of models/docs.md."""
        run_dbt(["docs", "generate"])
        target = Path(project.project_root) / "target"
        catalog = json.loads((target / "catalog.json").read_text())["nodes"]
        nodes = json.loads((target / "manifest.json").read_text())["nodes"]
        declared = [
            model["name"]
            for path in (
                "python_models/_python_models__models.yml",
                "models/marts/_marts__models.yml",
            )
            for model in yaml.safe_load((REPO / path).read_text())["models"]
        ]
        undocumented = {}
        for name in declared:
            unique_id = next(uid for uid, node in nodes.items() if node["name"] == name)
            documented = {
                column.lower(): info
                for column, info in nodes[unique_id]["columns"].items()
                if info["description"].strip() and info.get("doc_blocks")
            }
            columns = catalog[unique_id]["columns"]
            assert columns, f"{name} has no columns in catalog.json"
            missing = [c for c in columns if c.lower() not in documented]
            if missing:
                undocumented[name] = missing
        assert len(declared) == 12 and undocumented == {}
        model_runs = next(uid for uid, node in nodes.items() if node["name"] == "model_runs")
        assert len(catalog[model_runs]["columns"]) == 27  # checked column by column above

    def test_one_run_per_manifest_row_and_the_broken_estimator_fails_alone(self, project, built):
        runs = self.frame(project, "select * from {schema}.sweep_runs")
        manifest = self.frame(project, "select * from {schema}.sweep_manifest")
        assert len(runs) == len(manifest) == 10 * (1 + 6 + 1 + 1)  # + one svr_optuna search run
        assert sorted(runs["run_key"]) == sorted(manifest["run_key"])
        broken = runs[runs["estimator_name"] == "poisson_broken"]
        assert set(broken["status"]) == {"failed"}
        assert (
            broken["error"]
            .str.startswith("ValueError: Some value(s) of y are out of the valid range")
            .all()
        )
        others = runs[runs["estimator_name"] != "poisson_broken"]
        assert set(others["status"]) == {"ok"}
        assert others[["rmse", "mae", "r2", "primary_metric"]].notna().all().all()
        assert (others["primary_metric"] == others["rmse"]).all()
        assert (others[["n_train", "n_test"]].to_numpy() == [80, 20]).all()
        searched = runs[runs["search"] == "optuna"]
        assert len(searched) == 10 and runs.loc[runs["search"] == "grid", "trials"].isna().all()
        assert all(len(json.loads(t)) == 20 for t in searched["trials"])
        assert all("space" not in json.loads(p) for p in searched["params"])  # the best params
        trials = self.frame(project, "select * from {schema}.sweep_trials")
        assert len(trials) == 10 * 20 and set(trials["run_key"]) == set(searched["run_key"])
        assert all(isinstance(json.loads(p), dict) for p in trials["params"])

    def test_best_model_per_group_is_the_lowest_rmse_ok_run(self, project, built):
        runs = self.frame(project, "select * from {schema}.sweep_runs where status = 'ok'")
        best = self.frame(project, "select * from {schema}.best_models")
        assert len(best) == 10
        expected = runs.sort_values(["rmse", "run_key"]).groupby("group_id").head(1)
        assert dict(zip(best["group_id"], best["run_key"], strict=True)) == dict(
            zip(expected["group_id"], expected["run_key"], strict=True)
        )

    def test_stored_model_loads_safely_and_reproduces_its_scores(self, project, built):
        best = self.frame(project, "select group_id, model, params from {schema}.best_models")
        row = best.sort_values("group_id").iloc[0]
        pipeline = load_model(bytes(row["model"]))
        features = self.frame(
            project,
            f"select * from {{schema}}.feat_demo_regression where group_id = '{row['group_id']}'",
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

    def test_every_scoring_row_gets_a_prediction_or_a_reason(self, project, built):
        predictions = self.frame(project, "select * from {schema}.predictions")
        assert len(predictions) == 10 * 20 + 3
        stranger = predictions[predictions["group_id"] == "g99"]
        assert set(stranger["status"]) == {"failed"} and len(stranger) == 3
        assert set(stranger["reason"]) == {
            "no trained model for this group: it has no ok run in sweep_runs"
        }
        known = predictions[predictions["group_id"] != "g99"]
        assert set(known["status"]) == {"ok"} and known["prediction"].notna().all()
        best = self.frame(project, "select group_id, run_key from {schema}.best_models")
        assert set(zip(known["group_id"], known["run_key"], strict=True)) == set(
            zip(best["group_id"], best["run_key"], strict=True)
        )

    def test_held_out_predictions_reproduce_the_winners_recorded_rmse(self, project, built):
        assert str(built["training_rows_predictions"].status) == "success"
        spec = parse_spec(regression_spec(), model="sweep_runs")
        features = self.frame(project, "select * from {schema}.feat_demo_regression")
        predicted = self.frame(
            project, "select row_id, prediction from {schema}.training_rows_predictions"
        )
        predicted = predicted.set_index("row_id")["prediction"]
        winners = self.frame(
            project,
            "select b.group_id, r.rmse from {schema}.best_models b "
            "join {schema}.sweep_runs r on b.run_key = r.run_key",
        )
        for group_id, recorded in zip(winners["group_id"], winners["rmse"], strict=True):
            held_out = holdout_rows(features[features["group_id"] == group_id], spec)
            errors = predicted.loc[held_out["row_id"]].to_numpy() - held_out["y"].to_numpy()
            assert float(np.sqrt(np.mean(errors**2))) == pytest.approx(recorded, rel=1e-9), group_id

    def test_incremental_run_scores_the_new_batch_and_keeps_history(self, project, built):
        query = "select batch_date, count(*) as n, max(scored_at) as at from {schema}.sweep_predictions group by batch_date"
        before = self.frame(project, query).set_index("batch_date")
        next_day = (REPO / "models" / "features" / "feat_demo_regression_scoring.sql").read_text()
        next_day = next_day.replace(
            "select * from rows_to_score",
            "select * from rows_to_score\n\nunion all\n\n"
            "select row_id + 500000 as row_id, group_id, x0, x1, x2, x3, x4, x5, x6, x7,\n"
            "    date'2026-01-03' as batch_date\nfrom rows_to_score where batch_date = date'2026-01-02'",
        )
        write_file(
            next_day, project.project_root, "models", "features", "feat_demo_regression_scoring.sql"
        )
        run_dbt(["run", "-s", "feat_demo_regression_scoring", "sweep_predictions"])
        after = self.frame(project, query).set_index("batch_date")
        days = sorted(str(day) for day in after.index)
        assert days == ["2026-01-01", "2026-01-02", "2026-01-03"]
        first, second = sorted(before.index)
        assert after.loc[first, "at"] == before.loc[first, "at"]  # history not rescored
        assert after.loc[second, "at"] > before.loc[second, "at"]  # the latest batch is rescored
        assert after.loc[first, "n"] == before.loc[first, "n"]
        assert after["n"].sum() == before["n"].sum() + before.loc[second, "n"]

    def test_a_failing_error_gate_stops_prediction(self, project, built):
        marts = (REPO / "models" / "marts" / "_marts__models.yml").read_text()
        # The regression winners' rmse is ~10: a gate demanding <= 1 must fail and block scoring.
        impossible = marts.replace(
            "min_value: 0\n            max_value: 50", "min_value: 0\n            max_value: 1", 1
        )
        assert impossible != marts
        write_file(impossible, project.project_root, "models", "marts", "_marts__models.yml")
        results = {
            r.node.name: r
            for r in run_dbt(["build", "-s", "best_models", "sweep_predictions"], expect_pass=False)
        }
        gate = next(name for name in results if name.startswith("metric_within_range_best_models"))
        assert str(results[gate].status) == "fail"
        assert str(results["sweep_predictions"].status) == "skipped"


class TestDebugOneGroup(_DemoProject):
    """`python -m dbt_sweep debug`'s pieces give, in this process, what sweep_runs computed."""

    @pytest.fixture(scope="class")
    def built(self, project):
        run_dbt(["build", "-s", "+sweep_runs", "--exclude", "test_type:data"])

    def test_debug_one_group_reproduces_sweep_runs(self, project, built):
        from dbt_sweep.cli.debug import group_rows, load_spec
        from dbt_sweep.training import train_group

        dbt_args = ["--project-dir", str(project.project_root), "--quiet"]
        spec = load_spec("sweep_runs", dbt_args=dbt_args)
        rows = group_rows(spec, ["g03"], dbt_args=dbt_args)
        assert len(rows) == 100
        local = train_group(rows, spec).set_index("run_key")
        stored = self.frame(project, "select * from {schema}.sweep_runs where group_id = 'g03'")
        stored = stored.set_index("run_key").loc[local.index]
        assert (local["status"] == stored["status"]).all()
        ok = local["status"] == "ok"
        assert np.allclose(local.loc[ok, "rmse"], stored.loc[ok, "rmse"], rtol=1e-9)
