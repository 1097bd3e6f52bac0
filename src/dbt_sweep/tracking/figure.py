"""The parent run's figure: the primary metric per group and estimator, the winner per group marked.

Up to 40 groups, one labelled column per group shows every estimator and circles the winner. Beyond,
one column per group is unreadable (1,000 groups made a wall of dots), so the figure shows
distributions over groups instead: per estimator, the share of groups at or below each value (an
ECDF, readable at any group count), and how many groups each estimator won.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep.spec import SweepSpec

__all__ = ["metric_figure"]

_LABELLED_GROUPS = 40  # above this, a label per group is unreadable: the figure shows distributions
# Inches; 0.5 inch per group made a 500-inch (50,000-pixel) figure at 1,000 groups.
_MAX_WIDTH = 16.0
# The distribution view shows the 1st-99th percentile when a few groups stretch the axis.
_TAIL = 0.01
# Longer tick labels are shortened in the middle: 80-character group labels left no room for the
# axes ("constrained_layout not applied because axes sizes collapsed to zero").
_LABEL_CHARS = 28


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
        Up to 40 groups: one labelled column per group; per estimator, the best value over its grid;
        the winner circled. Beyond: the distribution over groups of each estimator's best value and
        of the winner's (ECDFs), and the number of groups each estimator won.
    """
    from matplotlib.figure import Figure

    ok = runs[(runs["status"] == "ok") & np.isfinite(runs["primary_metric"].astype(float))]
    pick = "min" if spec.primary_direction == "minimize" else "max"
    per_group = (
        ok.assign(_group=_labels(ok, spec.group_by))
        .groupby(["_group", "estimator_name"])["primary_metric"]
        .agg(pick)
        .unstack("estimator_name")
    )
    win = best.assign(_group=_labels(best, spec.group_by)) if len(best) else best.assign(_group=[])
    win = win[win["_group"].isin(per_group.index)]
    if len(per_group) <= _LABELLED_GROUPS:
        width = min(max(6.0, 0.5 * len(per_group) + 3), _MAX_WIDTH)
        figure = Figure(figsize=(width, 4.5), layout="constrained")
        _per_group(figure.subplots(), per_group, win, spec)
    else:
        figure = Figure(figsize=(11.0, 4.5), layout="constrained")
        spread, wins = figure.subplots(1, 2, width_ratios=[3, 1])
        _distribution(spread, wins, per_group, win, spec)
    return figure


def _labels(frame: pd.DataFrame, group_by: list[str]) -> pd.Series:
    """One string per row naming its group (``a/b`` for two group columns)."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=str)
    return frame[group_by].astype(str).agg("/".join, axis=1)


def _per_group(axes: Any, per_group: pd.DataFrame, win: pd.DataFrame, spec: SweepSpec) -> None:
    """One labelled column per group, a dot per estimator, the winner circled."""
    groups = list(per_group.index)
    position = {g: i for i, g in enumerate(groups)}
    names = list(per_group.columns)
    for i, name in enumerate(names):
        values = per_group[name].dropna()
        offset = (i - (len(names) - 1) / 2) * 0.08
        axes.scatter([position[g] + offset for g in values.index], values, label=name, s=18)
    if len(win):
        axes.scatter(
            [position[g] for g in win["_group"]], win["primary_metric"], s=140, facecolors="none",
            edgecolors="black", linewidths=1.5, label="winner",
        )  # fmt: skip
    labels = [_short(g) for g in groups]
    rotated = len(groups) > 8 or max(map(len, labels), default=0) > 12
    axes.set_xticks(
        range(len(groups)), labels, rotation=45 if rotated else 0, ha="right" if rotated else "center",
        fontsize="small" if rotated else None,
    )  # fmt: skip
    axes.set_xlabel("/".join(spec.group_by))
    axes.set_ylabel(f"{spec.primary_metric} ({spec.primary_direction})")
    axes.set_title(f"{spec.primary_metric} per group and estimator (best over each grid)")
    if names:  # a legend without labelled artists warns ("No artists with labels found")
        axes.legend(fontsize="small", loc="best")
    else:
        _no_runs(axes)


def _distribution(
    spread: Any, wins: Any, per_group: pd.DataFrame, win: pd.DataFrame, spec: SweepSpec
) -> None:
    """ECDFs over groups of each estimator's best value and of the winner's; wins per estimator."""
    colors = {name: f"C{i % 10}" for i, name in enumerate(per_group.columns)}
    for name in per_group.columns:
        spread.ecdf(per_group[name].dropna(), label=name, color=colors[name], linewidth=1.2)
    if len(win):
        spread.ecdf(
            win["primary_metric"], label="winner", color="black", linestyle="--", linewidth=1.5
        )
    values = np.concatenate([per_group.to_numpy().ravel(), win["primary_metric"].to_numpy()])
    values = values[np.isfinite(values.astype(float))]
    label = f"{spec.primary_metric} ({spec.primary_direction})"
    if len(values):
        low, high = np.quantile(values, [_TAIL, 1 - _TAIL])
        if high > low and values.max() - values.min() > 3 * (high - low):
            pad = 0.05 * (high - low)
            spread.set_xlim(low - pad, high + pad)
            label += ", 1st-99th percentile shown"
    spread.set_xlabel(label)
    spread.set_ylabel("share of groups at or below")
    spread.set_title(
        f"{spec.primary_metric} over {len(per_group):,} groups ({'/'.join(spec.group_by)}), "
        "best over each grid"
    )
    counts = win["estimator_name"].value_counts().reindex(per_group.columns, fill_value=0)
    wins.barh(range(len(counts)), counts.to_numpy(), color=[colors[n] for n in counts.index])
    wins.set_yticks(range(len(counts)), [_short(n) for n in counts.index], fontsize="small")
    wins.invert_yaxis()
    wins.set_xlabel("groups won")
    wins.set_title("winners")
    # "best" scans every drawn point for a free corner; an ECDF leaves the lower right free
    spread.legend(fontsize="small", loc="lower right")


def _short(label: str) -> str:
    """``label``, shortened in the middle to ``_LABEL_CHARS`` (both ends tell groups apart)."""
    if len(label) <= _LABEL_CHARS:
        return label
    half = (_LABEL_CHARS - 1) // 2
    return f"{label[:half]}…{label[-(_LABEL_CHARS - 1 - half) :]}"


def _no_runs(axes: Any) -> None:
    axes.text(0.5, 0.5, "no successful run", ha="center", va="center", transform=axes.transAxes)
