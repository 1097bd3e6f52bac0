"""The parent run's figure: the primary metric per group and estimator, the winner per group marked."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dbt_sweep.spec import SweepSpec

__all__ = ["metric_figure"]

_LABELLED_GROUPS = 40  # above this, a label per group is unreadable: the axis shows group positions
_MAX_WIDTH = (
    16.0  # inches; 0.5 inch per group made a 500-inch (50,000-pixel) figure at 1,000 groups
)


def metric_figure(runs: pd.DataFrame, best: pd.DataFrame, spec: SweepSpec) -> Any:
    """Return a matplotlib ``Figure`` (no pyplot: dbt runs models in threads, pyplot is global state).

    Parameters
    ----------
    runs : DataFrame
        Every run: group columns, ``estimator_name``, ``status``, ``primary_metric``, ``run_key``.
    best : DataFrame
        The winner per group (:func:`dbt_sweep.training.selection.best_runs`).
    spec : SweepSpec

    Returns
    -------
    matplotlib.figure.Figure
        One column per group; per estimator, the best value over its grid; the winner is circled.
        Up to 40 groups each column is labelled; beyond, groups are ordered by the winner's value
        so the figure shows the spread over groups.
    """
    from matplotlib.figure import Figure

    ok = runs[(runs["status"] == "ok") & runs["primary_metric"].notna()].copy()
    label = ok[spec.group_by].astype(str).agg("/".join, axis=1) if len(ok) else pd.Series(dtype=str)
    ok["_group"] = label
    groups = sorted(ok["_group"].unique())
    labelled = len(groups) <= _LABELLED_GROUPS
    win = (
        best.assign(_group=best[spec.group_by].astype(str).agg("/".join, axis=1))
        if len(best)
        else None
    )
    if not labelled and win is not None:
        order = win.set_index("_group")["primary_metric"].reindex(groups)
        groups = list(order.sort_values(kind="stable", na_position="last").index)
    position = {g: i for i, g in enumerate(groups)}
    width = min(max(6.0, 0.5 * len(groups) + 3), _MAX_WIDTH)
    figure = Figure(figsize=(width, 4.5), layout="constrained")
    axes = figure.subplots()
    pick = "min" if spec.primary_direction == "minimize" else "max"
    names = sorted(ok["estimator_name"].unique())
    for i, name in enumerate(names):
        per_group = ok[ok["estimator_name"] == name].groupby("_group")["primary_metric"].agg(pick)
        offset = (i - (len(names) - 1) / 2) * 0.08
        axes.scatter(
            [position[g] + offset for g in per_group.index], per_group.to_numpy(), label=name,
            s=18 if labelled else 4,
        )  # fmt: skip
    if win is not None:
        win = win[win["_group"].isin(position)]
        axes.scatter(
            [position[g] for g in win["_group"]], win["primary_metric"], s=140 if labelled else 12,
            facecolors="none", edgecolors="black", linewidths=1.5 if labelled else 0.5, label="winner",
        )  # fmt: skip
    group_label = "/".join(spec.group_by)
    if labelled:
        axes.set_xticks(
            range(len(groups)), groups, rotation=45 if len(groups) > 8 else 0, ha="right"
        )
        axes.set_xlabel(group_label)
    else:
        axes.set_xlabel(
            f"{len(groups)} groups ({group_label}), ordered by the winner's {spec.primary_metric}"
        )
    axes.set_ylabel(f"{spec.primary_metric} ({spec.primary_direction})")
    axes.set_title(f"{spec.primary_metric} per group and estimator (best over each grid)")
    # "best" scans every point for a free corner: slow with thousands of them
    axes.legend(fontsize="small", loc="best" if labelled else "upper left")
    return figure
