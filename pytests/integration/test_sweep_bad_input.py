"""Bad input through real dbt runs: a bad spec stops its model with a precise message; a bad group or
run becomes `failed`/`skipped` rows and loses nothing else."""

from __future__ import annotations

import pytest
from dbt.tests.util import run_dbt

from projects import sweep_models

pytestmark = pytest.mark.integration


def _rows(store: str, n: int, *, null_targets: int = 0) -> list[str]:
    return [f"{store},{i},{i * 0.5},{'' if i < null_targets else 3 * i + 1}" for i in range(n)]


SALES_CSV = (
    "\n".join(["store,a,b,t", *_rows("s1", 30), *_rows("s2", 30, null_targets=2), *_rows("s3", 5)])
    + "\n"
)

SPEC = """\
source: feat_sales
group_by: store
target: t
task: regression
features: [a, b]
estimators:
  - estimator: sklearn.linear_model.LinearRegression
  - estimator: sklearn.tree.DecisionTreeRegressor
    params: {random_state: 0}
    grid: {max_depth: [2, 4]}
split: {kind: random, test_size: 0.25, seed: 1}
metrics: [mae, rmse]
min_rows: 10
"""

# Model name -> the spec keys it breaks (None: no sweep config at all).
BROKEN = {
    "disallowed_estimator": {"estimators": [{"estimator": "os.system"}]},
    "wrong_grid_type": {"estimators": [{"estimator": "sklearn.svm.SVR", "grid": {"C": [1.0, -1]}}]},
    "missing_column": {"features": ["a", "nope"]},
    "metric_for_other_task": {"metrics": ["accuracy"], "primary_metric": "accuracy"},
    "empty_source": {"source": "feat_empty"},
    "no_spec": None,
}


class TestBadInput:
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"sales.csv": SALES_CSV}

    @pytest.fixture(scope="class")
    def models(self):
        sweeps = {
            "sales_manifest": None, "sales_runs": "sales_manifest",
            "big_manifest": None, "big_runs": "big_manifest", **dict.fromkeys(BROKEN),
        }  # fmt: skip
        # s1 and s2 (30 rows) are over the limit; s3 (5 rows) trains under a lower min_rows
        small = {"max_group_rows": 25, "min_rows": 2}
        changes = {**BROKEN, "big_manifest": small, "big_runs": small}
        return {
            "feat_sales.sql": "select * from {{ ref('sales') }}",
            "feat_empty.sql": "select * from {{ ref('sales') }} where 1 = 0",
            **sweep_models(SPEC, sweeps, changes=changes),
        }

    @pytest.fixture(scope="class")
    def results(self, project):
        run_dbt(["seed"])
        return {r.node.name: r for r in run_dbt(["run"], expect_pass=False)}

    @pytest.mark.parametrize(
        ("model", "message"),
        [
            (
                "disallowed_estimator",
                "The 'sweep.estimators[0].estimator' key of the sweep spec in model "
                "'disallowed_estimator' is 'os.system', which is not in the estimator allowlist "
                "['sklearn.']; add its module prefix to sweep.allowed_modules.",
            ),
            (
                "wrong_grid_type",
                "The 'sweep.estimators[0].grid.C' key of the sweep spec in model 'wrong_grid_type' "
                "must be a float in the range (0.0, inf]. Got -1 instead.",
            ),
            (
                "missing_column",
                "The 'sweep.features[1]' key of the sweep spec in model 'missing_column' names "
                "column 'nope', which is not in table 'feat_sales'.",
            ),
            (
                "metric_for_other_task",
                "The 'sweep.metrics[0]' key of the sweep spec in model 'metric_for_other_task' "
                "must be a metric for task 'regression'. Got 'accuracy' instead.",
            ),
            (
                "empty_source",
                "The source 'feat_empty' of the sweep in model 'empty_source' has no rows, so "
                "there is nothing to train.",
            ),
            ("no_spec", "model 'no_spec'"),
        ],
        ids=["disallowed", "grid-type", "missing-column", "metric-task", "empty", "no-spec"],
    )
    def test_bad_spec_fails_its_model_with_a_precise_message(self, results, model, message):
        assert str(results[model].status) == "error"
        assert message in results[model].message

    def test_a_bad_group_never_costs_another_group_its_runs(self, project, results):
        assert str(results["sales_runs"].status) == "success"
        rows = project.run_sql(
            f"select store, status, error from {project.test_schema}.sales_runs", fetch="all"
        )
        by_store: dict[str, set[str]] = {}
        for store, status, error in rows:
            by_store.setdefault(store, set()).add(status)
            if store == "s2":
                assert error == (
                    "target 't' has 2 null values in this group; filter them in the feature model"
                )
            if store == "s3":
                assert error == "group has 5 rows; sweep.min_rows is 10"
        assert len(rows) == 3 * 3  # 3 groups x (1 + 2 grid points)
        assert by_store == {"s1": {"ok"}, "s2": {"failed"}, "s3": {"skipped"}}

    def test_a_group_over_max_group_rows_fails_by_name_and_the_others_train(self, project, results):
        """A group too large for a Python worker never reaches one: its runs are failed rows
        naming the group, its row count and the key to raise; the build and the other groups go
        on."""
        assert str(results["big_runs"].status) == "success"
        rows = project.run_sql(
            f"select store, status, error from {project.test_schema}.big_runs", fetch="all"
        )
        assert len(rows) == 3 * 3
        by_store = {store: {(status, error) for s, status, error in rows if s == store}
                    for store in ("s1", "s2", "s3")}  # fmt: skip
        assert by_store["s3"] == {("ok", None)}
        for store in ("s1", "s2"):
            [(status, error)] = by_store[store]
            assert status == "failed"
            assert error.startswith(
                f"group store='{store}' has 30 rows, more than sweep.max_group_rows (25): a "
                "Python worker holds a group's rows in memory at once"
            )
            assert "Raise sweep.max_group_rows" in error
