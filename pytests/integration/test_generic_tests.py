"""The quality gates in macros/generic_tests/, proven against fixture seeds on the embedded Spark.

One dbt project holds every case, so the seeds load once. Passing cases are named after what they
permit. Each `*_failing` case is pinned with `error_if`/`warn_if: "!=<n>"`, the exact version of
dbt-utils' `error_if: "<1"` ("sneaky way to ensure that the test is returning failing rows",
dbt-utils `integration_tests/models/generic_tests/schema.yml`): it passes only when the gate
returns exactly n failing rows, so a gate that stops catching the problem fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

pytestmark = pytest.mark.integration

# Groups are (region, store_id). (north, s1), (north, s2) and (south, NULL) have ok runs;
# (south, s3) has only a failed and a skipped run. 2 of 8 rows failed: a failure rate of 0.25,
# which would be 2/6 if skipped rows were left out of the denominator.
# (north, s2, ridge) occurs twice. Ok rows: r2 = 1.0 (k2) sits on the upper bound, 0.95 (k3) is
# above 0.9, and k5 has no rmse. Failed and skipped rows have NULL or out-of-range metrics.
DATA_SWEEP_RUNS_CSV = """\
run_key,region,store_id,estimator,status,r2,rmse
k1,north,s1,ridge,ok,0.8,1.2
k2,north,s1,lasso,ok,1.0,1.1
k3,north,s2,ridge,ok,0.95,0.9
k4,north,s2,ridge,failed,,
k5,south,,ridge,ok,0.5,
k6,south,,lasso,skipped,,
k7,south,s3,ridge,failed,-5.0,
k8,south,s3,lasso,skipped,,
"""

DATA_SWEEP_MANIFEST_CSV = """\
run_key,region,store_id,estimator
k1,north,s1,ridge
k2,north,s1,lasso
k3,north,s2,ridge
k4,north,s2,ridge
k5,south,,ridge
k6,south,,lasso
k7,south,s3,ridge
k8,south,s3,lasso
"""

DATA_EMPTY_RUNS_CSV = "run_key,status\n"

BEST_MODELS_HEADER = "run_key,region,store_id,estimator,r2\n"
BEST_S1 = "k2,north,s1,lasso,1.0\n"
BEST_S2 = "k3,north,s2,ridge,0.95\n"
BEST_NULL_STORE = "k5,south,,ridge,0.5\n"

SEEDS = {
    "data_sweep_runs.csv": DATA_SWEEP_RUNS_CSV,
    "data_sweep_manifest.csv": DATA_SWEEP_MANIFEST_CSV,
    "data_empty_runs.csv": DATA_EMPTY_RUNS_CSV,
    # One best row per group with ok runs; the NULL store is matched as a group of its own.
    "data_best_models.csv": BEST_MODELS_HEADER + BEST_S1 + BEST_S2 + BEST_NULL_STORE,
    # (north, s2) has ok runs but no best row.
    "data_best_models_missing.csv": BEST_MODELS_HEADER + BEST_S1 + BEST_NULL_STORE,
    # The NULL-store group has two best rows: caught only if NULL keys are grouped together.
    "data_best_models_duplicate.csv": (
        BEST_MODELS_HEADER + BEST_S1 + BEST_S2 + BEST_NULL_STORE + "k6,south,,lasso,\n"
    ),
    # (south, s3) has a best row but only failed and skipped runs.
    "data_best_models_without_ok_run.csv": (
        BEST_MODELS_HEADER + BEST_S1 + BEST_S2 + BEST_NULL_STORE + "k7,south,s3,ridge,-5.0\n"
    ),
}

SCHEMA_YML = """\
seeds:
  - name: data_empty_runs
    config:
      column_types: {run_key: string, status: string}
    data_tests:
      - sweep_failure_rate:
          name: sweep_failure_rate_zero_rows
          arguments:
            max_failure_rate: 0

  - name: data_sweep_runs
    data_tests:
      - sweep_failure_rate:
          name: sweep_failure_rate_below
          arguments:
            max_failure_rate: 0.3
      - sweep_failure_rate:
          name: sweep_failure_rate_at_threshold
          arguments:
            max_failure_rate: 0.25
      - sweep_failure_rate:
          name: sweep_failure_rate_above_failing
          arguments:
            max_failure_rate: 0.2
          config: {error_if: "!=1", warn_if: "!=1"}
      - sweep_failure_rate:
          name: sweep_failure_rate_above_warn
          arguments:
            max_failure_rate: 0.2
          config: {severity: warn}
      - sweep_failure_rate:
          name: sweep_failure_rate_bad_argument
          arguments:
            max_failure_rate: 2

      - unique_combination_of_columns:
          name: unique_combination_of_columns
          arguments:
            combination_of_columns: [region, store_id, run_key]
      - unique_combination_of_columns:
          name: unique_combination_of_columns_quoted
          arguments:
            combination_of_columns: [region, store_id, run_key]
            quote_columns: true
      - unique_combination_of_columns:
          name: unique_combination_of_columns_failing
          arguments:
            combination_of_columns: [region, store_id, estimator]
          config: {error_if: "!=1", warn_if: "!=1"}
      - unique_combination_of_columns:
          name: unique_combination_of_columns_bad_argument
          arguments:
            combination_of_columns: [region, store_id, run_key]
            quote_columns: "yes"

      - row_count_equals:
          name: row_count_equals
          arguments:
            compare_model: ref('data_sweep_manifest')
      - row_count_equals:
          name: row_count_equals_failing
          arguments:
            compare_model: ref('data_best_models')
          config: {error_if: "!=1", warn_if: "!=1"}

    columns:
      - name: r2
        data_tests:
          - metric_within_range:
              name: metric_within_range_inside
              arguments:
                min_value: 0
                max_value: 1
          - metric_within_range:
              name: metric_within_range_outside_failing
              arguments:
                min_value: 0
                max_value: 0.9
              config: {error_if: "!=2", warn_if: "!=2"}
          - metric_within_range:
              name: metric_within_range_exclusive_failing
              arguments:
                min_value: 0
                max_value: 1
                inclusive: false
              config: {error_if: "!=1", warn_if: "!=1"}
          - metric_within_range:
              name: metric_within_range_all_statuses_failing
              arguments:
                min_value: 0
                max_value: 1
                where_status: null
              config: {error_if: "!=4", warn_if: "!=4"}
      - name: rmse
        data_tests:
          - metric_within_range:
              name: metric_within_range_null_metric_failing
              arguments:
                min_value: 0
              config: {error_if: "!=1", warn_if: "!=1"}

  - name: data_best_models
    data_tests:
      - one_best_model_per_group:
          name: one_best_model_per_group
          arguments: &best_models_arguments
            group_by: [region, store_id]
            runs: ref('data_sweep_runs')
      - one_best_model_per_group:
          name: one_best_model_per_group_bad_argument
          arguments:
            group_by: []
            runs: ref('data_sweep_runs')

  - name: data_best_models_missing
    data_tests:
      - one_best_model_per_group:
          name: one_best_model_per_group_missing_failing
          arguments: *best_models_arguments
          config: {error_if: "!=1", warn_if: "!=1"}

  - name: data_best_models_duplicate
    data_tests:
      - one_best_model_per_group:
          name: one_best_model_per_group_duplicate_failing
          arguments: *best_models_arguments
          config: {error_if: "!=1", warn_if: "!=1"}

  - name: data_best_models_without_ok_run
    data_tests:
      - one_best_model_per_group:
          name: one_best_model_per_group_without_ok_run_failing
          arguments: *best_models_arguments
          config: {error_if: "!=1", warn_if: "!=1"}
"""

# Test name -> (status, failures). A pinned `_failing` case passes with 0 failures by design.
EXPECTED = {
    "sweep_failure_rate_zero_rows": ("pass", 0),
    "sweep_failure_rate_below": ("pass", 0),
    "sweep_failure_rate_at_threshold": ("pass", 0),
    "sweep_failure_rate_above_failing": ("pass", 0),
    "sweep_failure_rate_above_warn": ("warn", 1),
    "unique_combination_of_columns": ("pass", 0),
    "unique_combination_of_columns_quoted": ("pass", 0),
    "unique_combination_of_columns_failing": ("pass", 0),
    "row_count_equals": ("pass", 0),
    "row_count_equals_failing": ("pass", 0),
    "metric_within_range_inside": ("pass", 0),
    "metric_within_range_outside_failing": ("pass", 0),
    "metric_within_range_exclusive_failing": ("pass", 0),
    "metric_within_range_all_statuses_failing": ("pass", 0),
    "metric_within_range_null_metric_failing": ("pass", 0),
    "one_best_model_per_group": ("pass", 0),
    "one_best_model_per_group_missing_failing": ("pass", 0),
    "one_best_model_per_group_duplicate_failing": ("pass", 0),
    "one_best_model_per_group_without_ok_run_failing": ("pass", 0),
}

BAD_ARGUMENT_MESSAGES = {
    "sweep_failure_rate_bad_argument": (
        "The 'max_failure_rate' argument of test 'sweep_failure_rate' on model 'data_sweep_runs'"
        " must be a number in [0, 1]. Got 2 instead. Write it as a share, e.g. 0.1 for 10%."
    ),
    "unique_combination_of_columns_bad_argument": (
        "The 'quote_columns' argument of test 'unique_combination_of_columns' on model"
        " 'data_sweep_runs' must be a boolean (true or false). Got 'yes' instead."
    ),
    "one_best_model_per_group_bad_argument": (
        "The 'group_by' argument of test 'one_best_model_per_group' on model 'data_best_models'"
        " must be a non-empty list of column names. Got [] instead. Write it as a YAML list,"
        " e.g. ['store_id']."
    ),
}


class TestGenericTests:
    # Class methods: pytest 9 deprecates class-scoped fixtures written as instance methods.
    @pytest.fixture(scope="class")
    @classmethod
    def seeds(cls) -> dict[str, str]:
        return SEEDS

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"schema.yml": SCHEMA_YML}

    @pytest.fixture(scope="class")
    @classmethod
    def results(cls, project: Any) -> dict[str, Any]:
        """Seed once and run every gate once; the test methods read the results by test name."""
        run_dbt(["seed"])
        return {result.node.name: result for result in run_dbt(["test"], expect_pass=False)}

    def test_every_case_ran(self, results: dict[str, Any]) -> None:
        assert sorted(results) == sorted([*EXPECTED, *BAD_ARGUMENT_MESSAGES])

    @pytest.mark.parametrize("name", list(EXPECTED), ids=list(EXPECTED))
    def test_gate(self, results: dict[str, Any], name: str) -> None:
        result = results[name]
        assert (str(result.status), result.failures) == EXPECTED[name], result.message

    @pytest.mark.parametrize("name", list(BAD_ARGUMENT_MESSAGES), ids=list(BAD_ARGUMENT_MESSAGES))
    def test_bad_argument(self, results: dict[str, Any], name: str) -> None:
        result = results[name]
        assert str(result.status) == "error"
        assert BAD_ARGUMENT_MESSAGES[name] in result.message
