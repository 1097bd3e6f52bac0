"""The parent run's figure stays readable and small whatever the number of groups."""

from __future__ import annotations

import io
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dbt_sweep.tracking.figure import metric_figure
from dbt_sweep.training.selection import best_runs

from conftest import make_spec


def _runs(n_groups: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    groups = np.repeat([f"g{i:04d}" for i in range(n_groups)], 2)
    return pd.DataFrame({
        "group_id": groups, "estimator_name": ["ridge", "svr"] * n_groups,
        "run_key": [f"k{i}" for i in range(2 * n_groups)], "status": "ok",
        "primary_metric": rng.uniform(1, 2, 2 * n_groups),
    })  # fmt: skip


def _drawn(
    runs: pd.DataFrame, direction: str = "minimize", group_by: tuple[str, ...] = ("group_id",)
) -> tuple[Any, float]:
    """The figure, rendered to PNG as MLflow's log_figure does, with any warning an error; and the
    seconds drawing and rendering took."""
    spec = make_spec(group_by=list(group_by))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = metric_figure(runs, best_runs(runs, list(group_by), direction), spec)
        figure.savefig(io.BytesIO(), format="png")
    return figure, time.perf_counter() - start


def test_few_groups_get_a_labelled_column_each() -> None:
    """Up to 40 groups: one labelled column per group, a dot per estimator, the winner circled."""
    runs = _runs(3)
    figure, _ = _drawn(runs)
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == sorted(runs["group_id"].unique())
    assert axes.get_xlabel() == "group_id"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["ridge", "svr", "winner"]


@pytest.mark.parametrize("n_groups", [1, 40], ids=["one", "forty"])
def test_long_group_labels_leave_room_for_the_axes(n_groups: int) -> None:
    """80-character labels of three group columns: shortened in the middle, so the layout holds
    (it warned "constrained_layout not applied because axes sizes collapsed to zero")."""
    runs = _runs(n_groups).rename(columns={"group_id": "region"})
    runs["region"] = "region_" + "x" * 80 + runs["region"]
    runs = runs.assign(store="store-1", department="d")
    figure, _ = _drawn(runs, group_by=("region", "store", "department"))
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels[0] == "region_xxxxxx…0000/store-1/d"
    assert {len(label) for label in labels} == {28}


def test_many_groups_get_distributions_drawn_fast() -> None:
    """1,500 groups: no column per group (it made a wall of dots) but an ECDF over groups per
    estimator and for the winners, and the groups each estimator won; drawn and rendered in
    seconds, at most 16 inches wide, without a warning."""
    runs = _runs(1500)
    figure, seconds = _drawn(runs)
    spread, wins = figure.axes
    assert seconds < 10
    assert figure.get_figwidth() <= 16
    assert spread.get_title() == "rmse over 1,500 groups (group_id), best over each grid"
    assert spread.get_xlabel() == "rmse (minimize)"
    assert [t.get_text() for t in spread.get_legend().get_texts()] == ["ridge", "svr", "winner"]
    assert [t.get_text() for t in wins.get_yticklabels()] == ["ridge", "svr"]
    won = best_runs(runs, ["group_id"], "minimize")["estimator_name"].value_counts()
    assert [bar.get_width() for bar in wins.patches] == [won["ridge"], won["svr"]]


def test_a_few_far_groups_do_not_squash_the_distribution() -> None:
    """One group of 200 a thousand times worse than the rest: the axis shows the 1st-99th
    percentile."""
    runs = _runs(200)
    runs.loc[[0, 1], "primary_metric"] = 1000.0
    figure, _ = _drawn(runs)
    spread = figure.axes[0]
    assert spread.get_xlim()[1] < 3
    assert spread.get_xlabel() == "rmse (minimize), 1st-99th percentile shown"


@pytest.mark.parametrize("n_groups", [3, 100], ids=["few", "many"])
def test_failed_and_missing_metrics_are_left_out(n_groups: int) -> None:
    """Failed runs and NaN/inf metrics are not drawn, and do not warn."""
    runs = _runs(n_groups)
    runs.loc[0, "status"] = "failed"
    runs.loc[1, "primary_metric"] = np.nan
    runs.loc[2, "primary_metric"] = np.inf
    _drawn(runs, "maximize")


def test_no_successful_run_draws_a_note_and_no_empty_legend() -> None:
    """Every run failed: the figure says so instead of warning "No artists with labels found"."""
    runs = _runs(3).assign(status="failed", primary_metric=np.nan)
    figure, _ = _drawn(runs)
    axes = figure.axes[0]
    assert axes.get_legend() is None
    assert [t.get_text() for t in axes.texts] == ["no successful run"]
