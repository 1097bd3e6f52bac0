"""The parent run's figure: the primary metric per group and estimator, the winner per group marked."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dbt_sweep.spec import SweepSpec


def metric_figure(runs: pd.DataFrame, best: pd.DataFrame, spec: SweepSpec) -> Any:
    """Return a matplotlib ``Figure`` (no pyplot: dbt runs models in threads, pyplot is global state).

    Parameters
    ----------
    runs : DataFrame
        Every run: group columns, ``estimator_name``, ``status``, ``primary_metric``, ``run_key``.
    best : DataFrame
        The winner per group (:func:`dbt_sweep.tracking.winners`).
    spec : SweepSpec

    Returns
    -------
    matplotlib.figure.Figure
        One column per group; per estimator, the best value over its grid; the winner is circled.
    """
    from matplotlib.figure import Figure

    ok = runs[(runs["status"] == "ok") & runs["primary_metric"].notna()].copy()
    label = ok[spec.group_by].astype(str).agg("/".join, axis=1) if len(ok) else pd.Series(dtype=str)
    ok["_group"] = label
    groups = sorted(ok["_group"].unique())
    position = {g: i for i, g in enumerate(groups)}
    figure = Figure(figsize=(max(6.0, 0.5 * len(groups) + 3), 4.5), layout="constrained")
    axes = figure.subplots()
    pick = "min" if spec.primary_direction == "minimize" else "max"
    names = sorted(ok["estimator_name"].unique())
    for i, name in enumerate(names):
        per_group = ok[ok["estimator_name"] == name].groupby("_group")["primary_metric"].agg(pick)
        offset = (i - (len(names) - 1) / 2) * 0.08
        axes.scatter([position[g] + offset for g in per_group.index], per_group.to_numpy(), label=name, s=18)
    if len(best):
        win = best.assign(_group=best[spec.group_by].astype(str).agg("/".join, axis=1))
        win = win[win["_group"].isin(position)]
        axes.scatter(
            [position[g] for g in win["_group"]], win["primary_metric"], s=140, facecolors="none",
            edgecolors="black", linewidths=1.5, label="winner",
        )  # fmt: skip
    axes.set_xticks(range(len(groups)), groups, rotation=45 if len(groups) > 8 else 0, ha="right")
    axes.set_xlabel("/".join(spec.group_by))
    axes.set_ylabel(f"{spec.primary_metric} ({spec.primary_direction})")
    axes.set_title(f"{spec.primary_metric} per group and estimator (best over each grid)")
    axes.legend(fontsize="small", loc="best")
    return figure
