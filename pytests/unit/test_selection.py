"""The winner rule in Python (`dbt_sweep.training.selection`): which runs compete, how they rank.

pytests/integration/test_winner_rule.py holds the `sweep_best_models` macro to the same rule on
Spark; these are the edge cases, fast.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dbt_sweep.training.selection import best_runs, rank_key


@pytest.mark.parametrize(
    ("status", "metric", "direction", "expected"),
    [
        ("ok", 0.5, "minimize", (0.5, "k1")),
        ("ok", 0.5, "maximize", (-0.5, "k1")),
        ("ok", -2.0, "maximize", (2.0, "k1")),
        ("ok", 0, "minimize", (0.0, "k1")),
        ("ok", np.float64(1.5), "minimize", (1.5, "k1")),
        ("failed", 0.5, "minimize", None),
        ("skipped", 0.5, "maximize", None),
        ("ok", None, "minimize", None),
        ("ok", math.nan, "minimize", None),
        ("ok", math.inf, "maximize", None),
        ("ok", -math.inf, "minimize", None),
    ],
    ids=[
        "minimize",
        "maximize-negates",
        "maximize-negative-metric",
        "integer-metric",
        "numpy-float",
        "failed",
        "skipped",
        "null-metric",
        "nan-metric",
        "inf-metric",
        "minus-inf-metric",
    ],
)
def test_rank_key(status, metric, direction, expected):
    assert rank_key(status, metric, "k1", direction=direction) == expected


def test_rank_key_compares_run_keys_as_strings():
    """A tie goes to the smaller run_key as a string, as Spark orders it: 'k10' before 'k9'."""
    assert rank_key("ok", 1.0, 10, direction="minimize") == (1.0, "10")
    assert rank_key("ok", 1.0, "k10", direction="minimize") < rank_key(
        "ok", 1.0, "k9", direction="minimize"
    )


def _runs(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["g", "run_key", "status", "primary_metric"])


def _winners(runs: pd.DataFrame, direction: str, group_by: list[str] | None = None) -> dict:
    group_by = group_by or ["g"]
    best = best_runs(runs, group_by, direction)
    keys = [tuple(row) if len(group_by) > 1 else row[0] for row in best[group_by].to_numpy()]
    return dict(zip(keys, best["run_key"], strict=True))


@pytest.mark.parametrize(
    ("rows", "direction", "expected"),
    [
        (
            [("a", "k2", "ok", 1.0), ("a", "k1", "ok", 1.0), ("a", "k3", "ok", 2.0)],
            "minimize",
            {"a": "k1"},
        ),
        (
            [("a", "k2", "ok", 3.0), ("a", "k1", "ok", 3.0), ("a", "k3", "ok", 2.0)],
            "maximize",
            {"a": "k1"},
        ),
        (
            [("a", "k9", "ok", 1.0), ("a", "k10", "ok", 1.0)],
            "minimize",
            {"a": "k10"},
        ),
        (
            [("a", "k1", "ok", 1.0), ("a", "k2", "ok", 2.0)],
            "maximize",
            {"a": "k2"},
        ),
        (
            [("a", "k1", "failed", 0.1), ("a", "k2", "skipped", 0.2), ("a", "k3", "ok", 5.0)],
            "minimize",
            {"a": "k3"},
        ),
        (
            [("a", "k1", "ok", math.nan), ("a", "k2", "ok", None), ("a", "k3", "ok", 9.0)],
            "minimize",
            {"a": "k3"},
        ),
        (
            [("a", "k1", "ok", math.inf), ("a", "k2", "ok", 1.0)],
            "maximize",
            {"a": "k2"},
        ),
        (
            [("a", "k1", "ok", -math.inf), ("a", "k2", "ok", 1.0)],
            "minimize",
            {"a": "k2"},
        ),
        (
            [("a", "k1", "ok", 1.0), ("b", "k2", "failed", None), ("c", "k3", "ok", math.nan)],
            "minimize",
            {"a": "k1"},
        ),
        (
            [("a", "k1", "ok", 2.0), (None, "k2", "ok", 1.0), (None, "k3", "ok", 0.5)],
            "minimize",
            {"a": "k1", None: "k3"},
        ),
    ],
    ids=[
        "tie-minimize-smallest-run-key",
        "tie-maximize-smallest-run-key",
        "tie-run-keys-compare-as-strings",
        "maximize-largest-metric",
        "failed-and-skipped-never-win",
        "nan-and-null-metrics-never-win",
        "inf-never-wins-maximize",
        "minus-inf-never-wins-minimize",
        "group-without-candidate-has-no-row",
        "null-group-is-a-group",
    ],
)
def test_best_runs(rows, direction, expected):
    winners = _winners(_runs(rows), direction)
    assert {None if pd.isna(k) else k: v for k, v in winners.items()} == expected


def test_best_runs_groups_by_every_group_column():
    runs = pd.DataFrame(
        {
            "region": ["north", "north", "south", "south"],
            "store": ["s1", "s1", "s1", "s1"],
            "run_key": ["k1", "k2", "k3", "k4"],
            "status": ["ok"] * 4,
            "primary_metric": [1.0, 2.0, 4.0, 3.0],
        }
    )
    assert _winners(runs, "minimize", ["region", "store"]) == {
        ("north", "s1"): "k1",
        ("south", "s1"): "k4",
    }


def test_best_runs_keeps_the_winners_rows_whole():
    runs = _runs([("b", "k2", "ok", 1.0), ("a", "k1", "ok", 1.0)]).assign(model=[b"2", b"1"])
    best = best_runs(runs, ["g"], "minimize")
    assert list(best.columns) == ["g", "run_key", "status", "primary_metric", "model"]
    assert list(best.index) == [0, 1]
    assert best.sort_values("g")["model"].tolist() == [b"1", b"2"]


def test_best_runs_of_no_runs_is_empty():
    """Regression: filtering with an empty Python list selected no columns, and '_rank' was gone."""
    best = best_runs(_runs([]), ["g"], "minimize")
    assert best.empty
    assert list(best.columns) == ["g", "run_key", "status", "primary_metric"]
