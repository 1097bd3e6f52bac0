"""Scheduled builds retrain only what changed: five real dbt builds of one incremental sweep.

1. first build: every run trains;
2. nothing changed: nothing trains, the table is the same to the byte;
3. one group's rows changed, a group added, a group removed, one estimator's grid grown: exactly
   the changed group's, the new group's and the new grid point's runs train;
4. `--vars '{sweep_retry: failed}'`: only the failed runs train;
5. `--full-refresh`: every run trains.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest
import yaml
from dbt.tests.util import run_dbt, run_dbt_and_capture, write_file
from dbt_common.invocation import get_invocation_id

from projects import (
    INCREMENTAL_RUNS,
    ParquetProject,
    incremental_runs_py,
    manifest_py,
    sales_csv,
    table,
)

pytestmark = pytest.mark.integration

SPEC: dict[str, Any] = {
    "source": "sales",
    "group_by": "store",
    "key": "row_id",
    "target": "t",
    "task": "regression",
    "features": ["a", "b"],
    "estimators": [
        {"name": "lr", "estimator": "sklearn.linear_model.LinearRegression"},
        {"name": "svr", "estimator": "sklearn.svm.SVR", "grid": {"C": [1.0, 10.0]}},
        # needs y >= 0: fails in every group, for the retry build
        {"name": "poisson_broken", "estimator": "sklearn.linear_model.PoissonRegressor"},
    ],
    "split": {"kind": "random", "test_size": 0.25, "seed": 1},
    "metrics": ["rmse"],
    "primary_metric": "rmse",
    "tracking": {"enabled": False},
}


def schema_yml(spec: dict[str, Any]) -> str:
    runs_config = {"sweep": spec, **INCREMENTAL_RUNS}
    models = [
        {"name": "sales_manifest", "config": {"sweep": spec}},
        {"name": "sales_runs", "config": runs_config},
    ]
    return yaml.safe_dump({"version": 2, "models": models}, sort_keys=False)


GROWN_SPEC = copy.deepcopy(SPEC)
GROWN_SPEC["estimators"][1]["grid"]["C"] = [1.0, 10.0, 100.0]


class TestIncrementalSweep(ParquetProject):
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"sales.csv": sales_csv({"s1": 2.0, "s2": -1.0, "s3": 0.5})}

    @pytest.fixture(scope="class")
    def models(self):
        return {
            "sales_manifest.py": manifest_py("sales"),
            "sales_runs.py": incremental_runs_py("sales", "sales_manifest"),
            "schema.yml": schema_yml(SPEC),
        }

    @pytest.fixture(scope="class")
    def builds(self, project) -> list[dict[str, Any]]:
        """Every build's table, invocation id and log, in order."""
        out = []

        def build(*args: str) -> None:
            _, log = run_dbt_and_capture(["run", *args])
            runs = table(project, "sales_runs").sort_values("run_key", ignore_index=True)
            out.append({"runs": runs, "invocation": str(get_invocation_id()), "log": log})

        run_dbt(["seed"])
        build()
        build()
        root = project.project_root
        write_file(sales_csv({"s1": 3.0, "s2": -1.0, "s4": 1.5}), root, "seeds", "sales.csv")
        write_file(schema_yml(GROWN_SPEC), root, "models", "schema.yml")
        run_dbt(["seed"])
        build()
        build("--vars", "{sweep_retry: failed}")
        build("--full-refresh")
        return out

    @staticmethod
    def trained(build: dict[str, Any]) -> pd.DataFrame:
        runs = build["runs"]
        return runs[runs["dbt_invocation_id"] == build["invocation"]]

    def test_the_first_build_trains_every_run(self, builds):
        first = builds[0]
        assert len(first["runs"]) == 3 * 4
        assert len(self.trained(first)) == 12
        assert (
            "sales_runs: 12 runs to train, 0 carried forward unchanged, 0 removed" in first["log"]
        )
        assert first["runs"]["data_fingerprint"].notna().all()
        assert first["runs"]["trained_with"].str.startswith("dbt-sweep results ").all()

    def test_a_build_without_changes_trains_nothing_and_keeps_every_row(self, builds):
        first, second = builds[0], builds[1]
        assert self.trained(second).empty
        assert (
            "sales_runs: 0 runs to train, 12 carried forward unchanged, 0 removed" in second["log"]
        )
        pd.testing.assert_frame_equal(first["runs"], second["runs"])

    def test_only_changed_groups_new_groups_and_new_grid_points_train(self, builds):
        before, after = builds[1], builds[2]
        runs = after["runs"]
        assert sorted(runs["store"].unique()) == ["s1", "s2", "s4"]  # s3 left the data
        trained = self.trained(after)
        by_store = trained.groupby("store").size().to_dict()
        # s1's rows changed and s4 is new: all 5 runs; s2: only the new grid point C=100
        assert by_store == {"s1": 5, "s2": 1, "s4": 5}
        new_point = trained[trained["store"] == "s2"].iloc[0]
        assert new_point["estimator_name"] == "svr" and '"C": 100.0' in new_point["params"]
        carried = runs[runs["dbt_invocation_id"] != after["invocation"]]
        assert set(carried["store"]) == {"s2"} and len(carried) == 4
        old = before["runs"].set_index("run_key").loc[carried["run_key"]]
        for column in ("rmse", "trained_at", "dbt_invocation_id", "model", "status"):
            pd.testing.assert_series_equal(
                carried[column].reset_index(drop=True),
                old[column].reset_index(drop=True),
                check_names=False,
            )
        assert (
            "sales_runs: 11 runs to train, 4 carried forward unchanged, 4 removed" in after["log"]
        )

    def test_retry_failed_trains_the_failed_runs_and_nothing_else(self, builds):
        before, retry = builds[2], builds[3]
        trained = self.trained(retry)
        assert set(trained["estimator_name"]) == {"poisson_broken"} and len(trained) == 3
        failed_before = before["runs"][before["runs"]["status"] == "failed"]
        assert set(trained["run_key"]) == set(failed_before["run_key"])
        assert len(retry["runs"]) == 15

    def test_full_refresh_trains_every_run(self, builds):
        refresh = builds[4]
        assert len(self.trained(refresh)) == len(refresh["runs"]) == 15
        assert "15 runs to train, 0 carried forward unchanged, 0 removed" in refresh["log"]

    def test_a_small_retrain_runs_on_the_driver_with_the_workers_results(self, builds):
        """The third build retrains 11 runs on the driver; the full refresh trains the same runs
        on the same data on Spark's workers: the same metrics, statuses and model bytes."""
        first, after, refresh = builds[0], builds[2], builds[4]
        assert "few enough to train on the driver" in after["log"]
        for build in (first, refresh):  # first builds use the workers
            assert "few enough to train on the driver" not in build["log"]
        on_driver = self.trained(after).set_index("run_key").sort_index()
        on_workers = refresh["runs"].set_index("run_key").loc[on_driver.index]
        for column in ("status", "rmse", "n_train", "n_test", "params"):
            pd.testing.assert_series_equal(on_driver[column], on_workers[column], check_names=False)
        # whole groups retrained (s1 changed, s4 new): each work unit's winner has the same bytes;
        # s2 retrained one run alone, so which of its runs holds bytes differs by design
        whole = on_driver["store"].isin(["s1", "s4"])
        assert on_driver.loc[whole, "model"].notna().sum() >= 2
        pd.testing.assert_series_equal(
            on_driver.loc[whole, "model"], on_workers.loc[whole, "model"], check_names=False
        )
