"""The parent run's figure stays readable and small whatever the number of groups."""

from __future__ import annotations

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


@pytest.mark.parametrize(("n_groups", "labelled"), [(3, True), (1000, False)], ids=["few", "many"])
def test_figure_labels_few_groups_and_caps_its_width(n_groups: int, labelled: bool) -> None:
    """A label per group up to 40 groups; beyond, no per-group labels and at most 16 inches wide
    (0.5 inch per group made a 500-inch figure at 1,000 groups)."""
    spec = make_spec()
    runs = _runs(n_groups)
    figure = metric_figure(runs, best_runs(runs, ["group_id"], "minimize"), spec)
    axes = figure.axes[0]
    assert figure.get_figwidth() <= 16
    labels = [t.get_text() for t in axes.get_xticklabels()]
    if labelled:
        assert labels == sorted(runs["group_id"].unique())
    else:
        assert len(labels) < 20
        assert axes.get_xlabel() == "1000 groups (group_id), ordered by the winner's rmse"
    assert axes.get_legend().get_texts()[-1].get_text() == "winner"
