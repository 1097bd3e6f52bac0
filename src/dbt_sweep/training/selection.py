"""Which run wins a group: the one rule, in Python.

A candidate is an ``ok`` run with a finite primary metric. Candidates rank by the primary metric in
its direction (``minimize``: smallest first, ``maximize``: largest first), ties to the smallest
``run_key``, so the winner is the same in every build. Training (which run of a unit keeps its model
bytes) and tracking (which child run logs the group's model) both call this module; the
``sweep_best_models`` macro is the same rule in SQL, and
``pytests/integration/test_winner_rule.py`` holds the two equal on the same runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["best_runs", "rank_key"]


def rank_key(
    status: str, primary_metric: Any, run_key: str, *, direction: str
) -> tuple[float, str] | None:
    """The sort key of a run among its group's runs (smaller wins), or None when it cannot win.

    Examples
    --------
    >>> rank_key("ok", 0.9, "k2", direction="maximize") < rank_key("ok", 0.5, "k1", direction="maximize")
    True
    >>> rank_key("ok", 1.0, "a", direction="minimize") < rank_key("ok", 1.0, "b", direction="minimize")
    True
    >>> rank_key("failed", 0.1, "k3", direction="minimize") is None
    True
    """
    if status != "ok" or primary_metric is None:
        return None
    value = float(primary_metric)
    if not math.isfinite(value):  # NaN and inf never win, in the macro either
        return None
    return (-value if direction == "maximize" else value, str(run_key))


def best_runs(runs: pd.DataFrame, group_by: Sequence[str], direction: str) -> pd.DataFrame:
    """The winning run of each group of ``runs`` (columns ``status``, ``primary_metric``,
    ``run_key`` and the group columns); groups without a candidate have no row.

    Examples
    --------
    >>> runs = pd.DataFrame({"g": ["a", "a", "b"], "run_key": ["k1", "k2", "k3"],
    ...     "status": ["ok", "ok", "failed"], "primary_metric": [0.5, 0.9, None]})
    >>> best_runs(runs, ["g"], "maximize")["run_key"].tolist()
    ['k2']
    """
    keys = [
        rank_key(status, metric, run_key, direction=direction)
        for status, metric, run_key in zip(
            runs["status"], runs["primary_metric"], runs["run_key"], strict=True
        )
    ]
    # rows in rank_key order (its tie-break included), candidates only: the first of each group wins
    order = sorted((k, i) for i, k in enumerate(keys) if k is not None)
    candidates = runs.iloc[np.array([i for _, i in order], dtype=int)]
    return (
        candidates.groupby(list(group_by), dropna=False, sort=True).head(1).reset_index(drop=True)
    )
