"""The champion gate (`no_regression_from_champion`) on fixture data, through real dbt tests: it
fails on a deliberately worse winner, passes on a better one or one within the margin, in both
directions, and passes when there is no history yet (the first build)."""

from __future__ import annotations

import pytest
from dbt.tests.util import run_dbt

pytestmark = pytest.mark.integration

# Two builds of history: each group's champion is its latest row (b2).
HISTORY = """\
group_id,run_key,primary_metric,primary_direction,dbt_invocation_id,recorded_at
g1,k1,5.0,minimize,b1,2026-01-01 00:00:00
g1,k2,4.0,minimize,b2,2026-01-02 00:00:00
g2,k3,0.80,maximize,b2,2026-01-02 00:00:00
"""
# g1's champion has rmse 4.0 (lower wins), g2's has 0.80 (higher wins).
WORSE = """\
group_id,run_key,primary_metric,primary_direction
g1,k9,5.5,minimize
g2,k8,0.70,maximize
"""
BETTER = """\
group_id,run_key,primary_metric,primary_direction
g1,k9,3.0,minimize
g2,k8,0.90,maximize
g3,k7,1.0,minimize
"""
WITHIN_MARGIN = """\
group_id,run_key,primary_metric,primary_direction
g1,k9,4.4,minimize
g2,k8,0.75,maximize
"""

SCHEMA_YML = """\
seeds:
  - name: champion_history
    config:
      column_types: {recorded_at: timestamp, primary_metric: double}
  - name: best_worse
    data_tests:
      - no_regression_from_champion:
          name: gate_worse
          arguments: {history: champion_history, group_by: [group_id], margin: 0.1}
  - name: best_better
    data_tests:
      - no_regression_from_champion:
          name: gate_better
          arguments: {history: champion_history, group_by: [group_id], margin: 0}
  - name: best_within_margin
    data_tests:
      - no_regression_from_champion:
          name: gate_within_margin
          arguments: {history: champion_history, group_by: [group_id], margin: 0.5}
      - no_regression_from_champion:
          name: gate_first_build
          arguments: {history: no_such_history, group_by: [group_id], margin: 0}
      - no_regression_from_champion:
          name: gate_bad_margin
          arguments: {history: champion_history, group_by: [group_id], margin: -1}
"""


class TestChampionGate:
    @pytest.fixture(scope="class")
    @classmethod
    def seeds(cls) -> dict[str, str]:
        return {
            "champion_history.csv": HISTORY,
            "best_worse.csv": WORSE,
            "best_better.csv": BETTER,
            "best_within_margin.csv": WITHIN_MARGIN,
        }

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"schema.yml": SCHEMA_YML}

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict:
        return {"seeds": {"+file_format": "parquet"}}

    @pytest.fixture(scope="class")
    def results(self, project) -> dict:
        run_dbt(["seed"])
        return {r.node.name: r for r in run_dbt(["test"], expect_pass=False)}

    def test_a_worse_winner_fails_in_both_directions(self, results) -> None:
        result = results["gate_worse"]
        assert (result.status, result.failures) == ("fail", 2)

    @pytest.mark.parametrize("name", ["gate_better", "gate_within_margin", "gate_first_build"])
    def test_better_within_margin_and_first_build_pass(self, results, name: str) -> None:
        assert (results[name].status, results[name].failures) == ("pass", 0)

    def test_a_bad_margin_names_the_argument(self, results) -> None:
        result = results["gate_bad_margin"]
        assert result.status == "error"
        assert (
            "The 'margin' argument of test 'no_regression_from_champion' on model "
            "'best_within_margin' must be a number >= 0, in the units of the primary metric. "
            "Got -1 instead. Use 0 to refuse any regression."
        ) in result.message
