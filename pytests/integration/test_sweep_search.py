"""A classification search through real dbt runs: a pruned Optuna search and a halving grid, their
trials exploded by the `sweep_trials` macro, winners chosen in log loss's direction (lowest)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from dbt.tests.util import run_dbt
from sklearn.datasets import load_breast_cancer

from projects import REPO, ParquetProject, sweep_models, table

pytestmark = pytest.mark.integration

FEATURES = ["f0", "f1", "f2", "f3", "f4"]


def _patients_csv() -> str:
    """Breast-cancer rows in two cohorts, five features: a small, real classification set."""
    data = load_breast_cancer()
    frame = pd.DataFrame(data.data[:, :5], columns=FEATURES).round(4)
    frame.insert(0, "patient_id", range(len(frame)))
    frame.insert(1, "cohort", [f"c{i % 2}" for i in range(len(frame))])
    frame["diagnosis"] = data.target
    return frame.to_csv(index=False)


SPEC = f"""\
source: feat_patients
group_by: cohort
key: patient_id
target: diagnosis
task: classification
features: {FEATURES}
estimators:
  - name: sgd_pruned
    estimator: sklearn.linear_model.SGDClassifier
    search: optuna
    params: {{loss: log_loss, learning_rate: constant}}
    space:
      alpha: {{float: [0.00001, 1.0], log: true}}
      eta0: {{float: [0.0001, 1.0], log: true}}
    trials: 12
    pruning: {{pruner: median, epochs: 6, warmup: 1}}
  - name: logreg_halving
    estimator: sklearn.linear_model.LogisticRegression
    params: {{max_iter: 500}}
    grid: {{C: [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]}}
    halving: {{factor: 2, min_rows: 40}}
preprocessing: {{scale: standard}}
split: {{kind: random, test_size: 0.25, seed: 3}}
metrics: [log_loss, accuracy, f1]
primary_metric: log_loss
tracking: {{enabled: false}}
"""


class TestClassificationSearch(ParquetProject):
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"patients.csv": _patients_csv()}

    @pytest.fixture(scope="class")
    def macros(self):
        return {
            name: (REPO / "macros" / name).read_text()
            for name in ("sweep_trials.sql", "sweep_best_models.sql")
        }

    @pytest.fixture(scope="class")
    def models(self):
        return {
            **sweep_models(SPEC, {"patients_manifest": None, "patients_runs": "patients_manifest"}),
            "feat_patients.sql": "select * from {{ ref('patients') }}",
            "patients_trials.sql": "{{ sweep_trials(ref('patients_runs'), group_by=['cohort']) }}",
            "patients_best.sql": "{{ sweep_best_models(ref('patients_runs'), group_by=['cohort']) }}",
        }

    @pytest.fixture(scope="class")
    def tables(self, project):
        run_dbt(["seed"])
        run_dbt(["run"])
        return {
            name: table(project, name)
            for name in ("patients_runs", "patients_trials", "patients_best")
        }

    def test_trials_are_exploded_with_pruning_and_halving_fields(self, tables):
        runs, trials = tables["patients_runs"], tables["patients_trials"]
        assert set(runs["status"]) == {"ok"} and len(runs) == 2 * 2
        assert runs.groupby("estimator_name")["search"].first().to_dict() == {
            "logreg_halving": "grid", "sgd_pruned": "optuna"
        }  # fmt: skip
        counts = trials.groupby(["cohort", "estimator_name"]).size().to_dict()
        assert counts == {(c, "sgd_pruned"): 12 for c in ("c0", "c1")} | {
            (c, "logreg_halving"): 6 for c in ("c0", "c1")
        }
        sgd = trials[trials["estimator_name"] == "sgd_pruned"]
        assert "PRUNED" in set(sgd["state"]) and sgd["rows"].isna().all()
        assert (sgd.loc[sgd["state"] == "COMPLETE", "epochs"] == 6).all()
        assert (sgd.loc[sgd["state"] == "PRUNED", "epochs"] < 6).all()
        halving = trials[trials["estimator_name"] == "logreg_halving"]
        assert halving["epochs"].isna().all() and halving["rounds"].notna().all()
        # 6 points on 40 rows, the best 3 on 80, the best 2 on every search training row
        for _, run in halving.groupby("run_key"):
            assert sorted(run["state"]) == ["COMPLETE"] * 2 + ["PRUNED"] * 4
            assert sorted(run["rows"])[:4] == [40, 40, 40, 80]

    def test_each_search_keeps_its_lowest_log_loss_trial_and_best_models_the_lowest_run(
        self, tables
    ):
        runs, trials, best = (
            tables["patients_runs"],
            tables["patients_trials"],
            tables["patients_best"],
        )
        done = trials[trials["state"] == "COMPLETE"].sort_values(["value", "trial_number"])
        winners = done.groupby("run_key").head(1).set_index("run_key")
        for run in runs.itertuples():
            point = json.loads(winners.loc[run.run_key, "params"])
            assert {k: v for k, v in json.loads(run.params).items() if k in point} == point
        expected = runs.sort_values(["log_loss", "run_key"]).groupby("cohort").head(1)
        assert dict(zip(best["cohort"], best["run_key"], strict=True)) == dict(
            zip(expected["cohort"], expected["run_key"], strict=True)
        )
        assert set(best["primary_direction"]) == {"minimize"}
