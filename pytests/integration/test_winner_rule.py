"""The winner rule twice, held equal: the `sweep_best_models` macro (SQL, on the embedded Spark) and
`dbt_sweep.training.selection.best_runs` (Python) choose the same run in every group of the same
sweep_runs-shaped rows.

One dbt run builds the rows twice (`runs_minimize`, `runs_maximize`: the same runs, one direction
each) and the macro's winners of each. The rows cover what the rule decides: ties (the smallest
run_key wins), null, NaN and infinite metrics, failed and skipped runs (some with the best metric),
groups with no candidate, and two group columns (store `s1` is in both regions, and one store is
NULL). The second test builds the comparison against deliberately broken copies of the macro and
asserts that it notices, so the equality in the first test is not vacuous.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from dbt.tests.util import run_dbt

from dbt_sweep.training.selection import best_runs

from projects import REPO, table

pytestmark = pytest.mark.integration

GROUP_BY = ["region", "store"]
DIRECTIONS = ("minimize", "maximize")
NAN, INF = "NaN", "Infinity"

# (region, store, run_key, status, primary_metric): metrics as Spark reads them from strings.
# Rows are out of run_key order, so that neither side wins a tie by reading order.
RUNS = [
    # ties: k01/k02 tie at the minimum, k04/k05 at the maximum
    ("north", "s1", "k02", "ok", "1.0"),
    ("north", "s1", "k01", "ok", "1.0"),
    ("north", "s1", "k03", "ok", "2.0"),
    ("north", "s2", "k05", "ok", "3.0"),
    ("north", "s2", "k04", "ok", "3.0"),
    ("north", "s2", "k06", "ok", "0.5"),
    # null metrics, and failed / skipped runs with the best metric in either direction
    ("north", "s3", "k07", "ok", None),
    ("north", "s3", "k08", "failed", "0.1"),
    ("north", "s3", "k09", "skipped", None),
    ("north", "s3", "k10", "ok", "5.0"),
    ("north", "s3", "k11", "ok", "7.0"),
    ("north", "s3", "k12", "skipped", "99.0"),
    # NaN and infinite metrics never win (Spark sorts NaN above every number)
    ("south", "s1", "k13", "ok", NAN),
    ("south", "s1", "k14", "ok", "4.0"),
    ("south", "s1", "k15", "ok", INF),
    ("south", "s1", "k16", "ok", f"-{INF}"),
    # no candidate: a NaN metric only, or no ok run with a metric
    ("south", "s2", "k17", "ok", NAN),
    ("south", "s2", "k18", "failed", None),
    ("south", "s3", "k19", "failed", None),
    ("south", "s3", "k20", "skipped", None),
    ("south", "s3", "k21", "ok", None),
    # a NULL store is a group of its own
    ("south", None, "k22", "ok", "2.5"),
    ("south", None, "k23", "ok", "1.5"),
]

EXPECTED = {
    "minimize": {
        ("north", "s1"): "k01",
        ("north", "s2"): "k06",
        ("north", "s3"): "k10",
        ("south", "s1"): "k14",
        ("south", None): "k23",
    },
    "maximize": {
        ("north", "s1"): "k03",
        ("north", "s2"): "k04",
        ("north", "s3"): "k11",
        ("south", "s1"): "k14",
        ("south", None): "k22",
    },
}


def _sql(value: str | None) -> str:
    return "null" if value is None else f"'{value}'"


def runs_sql(direction: str) -> str:
    """A sweep_runs-shaped relation of RUNS, every run recorded in ``direction``."""
    rows = ",\n".join(
        f"        ({_sql(region)}, {_sql(store)}, '{run_key}', '{status}', "
        f"cast({_sql(metric)} as double))"
        for region, store, run_key, status, metric in RUNS
    )
    return f"""\
with

runs as (

    select * from values
{rows}
    as runs (region, store, run_key, status, primary_metric)

)

select
    ---------- keys
    cast(region as string) as region,
    cast(store as string) as store,
    run_key,
    ---------- run
    status,
    'ridge' as estimator_name,
    'sklearn.linear_model.Ridge' as estimator,
    '{{}}' as params,
    'rmse' as primary_metric_name,
    '{direction}' as primary_direction,
    primary_metric,
    80 as n_train,
    20 as n_test,
    -- every run carries model bytes: the rule under test is the metric's
    cast(run_key as binary) as model,
    timestamp'2026-01-01 00:00:00' as trained_at,
    cast(null as string) as mlflow_run_id

from runs
"""


def _broken(macro: str, name: str, old: str, new: str) -> str:
    """The repository's macro renamed to ``name``, with ``old`` replaced by ``new``."""
    assert macro.count(old) == 1, f"{old!r} is not in sweep_best_models.sql once"
    return macro.replace(old, new).replace("macro sweep_best_models(", f"macro {name}(")


MACRO = (REPO / "macros" / "sweep_best_models.sql").read_text()
BROKEN_MACROS = {  # rule name -> the macro with one change
    "ties_to_largest_run_key": _broken(
        MACRO, "ties_to_largest_run_key", "run_key asc", "run_key desc"
    ),
    "ignores_direction": _broken(
        MACRO, "ignores_direction", "then -primary_metric", "then primary_metric"
    ),
}
RULES = ["sweep_best_models", *BROKEN_MACROS]


def winners_of_table(frame: pd.DataFrame) -> dict[tuple, str]:
    """group -> run_key of a best-models table (NaN group values read as None)."""
    frame = frame.astype(object).where(frame.notna(), None)
    keys = zip(*(frame[column] for column in GROUP_BY), strict=True)
    return dict(zip(keys, frame["run_key"], strict=True))


def python_winners(runs: pd.DataFrame, direction: str) -> dict[tuple, str]:
    return winners_of_table(best_runs(runs, GROUP_BY, direction))


class TestWinnerRule:
    # Class methods: pytest 9 deprecates class-scoped fixtures written as instance methods.
    @pytest.fixture(scope="class")
    @classmethod
    def macros(cls, macros: dict[str, str]) -> dict[str, str]:
        """The repository's macros, and the broken copies of sweep_best_models."""
        return {**macros, **{f"{name}.sql": text for name, text in BROKEN_MACROS.items()}}

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        models = {f"runs_{direction}.sql": runs_sql(direction) for direction in DIRECTIONS}
        for rule in RULES:
            for direction in DIRECTIONS:
                models[f"{rule}_{direction}.sql"] = (
                    f"{{{{ {rule}(ref('runs_{direction}'), group_by={GROUP_BY}) }}}}"
                )
        return models

    @pytest.fixture(scope="class")
    @classmethod
    def tables(cls, project: Any) -> dict[str, pd.DataFrame]:
        """One `dbt run`; every relation read back by name."""
        run_dbt(["run"])
        names = [f"runs_{d}" for d in DIRECTIONS]
        names += [f"{rule}_{d}" for rule in RULES for d in DIRECTIONS]
        return {name: table(project, name) for name in names}

    @pytest.mark.parametrize("direction", DIRECTIONS, ids=list(DIRECTIONS))
    def test_macro_and_best_runs_choose_the_same_winners(
        self, tables: dict[str, pd.DataFrame], direction: str
    ) -> None:
        runs = tables[f"runs_{direction}"]
        assert len(runs) == len(RUNS)
        in_sql = winners_of_table(tables[f"sweep_best_models_{direction}"])
        in_python = python_winners(runs, direction)
        assert in_sql == in_python
        assert in_python == EXPECTED[direction]

    @pytest.mark.parametrize(
        ("rule", "direction"),
        [
            ("ties_to_largest_run_key", "minimize"),
            ("ties_to_largest_run_key", "maximize"),
            ("ignores_direction", "maximize"),
        ],
        ids=["ties-minimize", "ties-maximize", "direction-maximize"],
    )
    def test_the_comparison_catches_a_broken_rule(
        self, tables: dict[str, pd.DataFrame], rule: str, direction: str
    ) -> None:
        in_sql = winners_of_table(tables[f"{rule}_{direction}"])
        in_python = python_winners(tables[f"runs_{direction}"], direction)
        assert in_sql != in_python
