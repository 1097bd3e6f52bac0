"""What a search in the spec means, before anything trains: grid points, halving rounds, and a search
run's manifest ``params`` decoded into its settings.

The manifest (expanding grids, costing halving runs) and training (running the search) both read
these, so they live with the spec. Pure Python: no sklearn, no Spark.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SEARCH_KEYS", "SearchConfig", "decode", "grid_points", "halving_plan", "is_search_run"]

#: The keys of a search run's manifest ``params`` that are search settings, not estimator params.
SEARCH_KEYS = ("space", "trials", "seed", "halving", "grid", "pruning")


@dataclass(frozen=True)
class SearchConfig:
    """A search run's configuration, decoded from its manifest ``params``."""

    fixed: dict[str, Any]
    space: dict[str, dict[str, Any]]
    trials: int
    seed: int
    halving: dict[str, int] | None = None
    grid: dict[str, list[Any]] | None = None  # search: grid with halving
    pruning: dict[str, Any] | None = None  # search: optuna with pruning


def grid_points(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Expand a grid into its points: parameters in sorted name order, values in the given order.

    Examples
    --------
    >>> grid_points({"kernel": ["linear", "rbf"], "C": [1.0, 10.0]})
    [{'C': 1.0, 'kernel': 'linear'}, {'C': 1.0, 'kernel': 'rbf'}, {'C': 10.0, 'kernel': 'linear'}, {'C': 10.0, 'kernel': 'rbf'}]
    """
    keys = sorted(grid)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


def is_search_run(search: str, params: Mapping[str, Any]) -> bool:
    """Whether a manifest row is one search run: random, optuna, or a grid with halving."""
    return search in ("random", "optuna") or (search == "grid" and "halving" in params)


def decode(params: Mapping[str, Any]) -> SearchConfig:
    """Split a search run's manifest ``params`` into fixed params and the search settings."""
    fixed = {k: v for k, v in params.items() if k not in SEARCH_KEYS}
    grid = params.get("grid")
    trials = int(params["trials"]) if "trials" in params else len(grid_points(grid or {}))
    return SearchConfig(
        fixed, dict(params.get("space", {})), trials, int(params.get("seed", 0)),
        params.get("halving"), grid, params.get("pruning"),
    )  # fmt: skip


def halving_plan(
    n_points: int, *, factor: int, min_rows: int, n_rows: int
) -> list[tuple[int, int]]:
    """The rounds successive halving runs when no trial fails: ``(configurations, rows)`` per round.

    Examples
    --------
    >>> halving_plan(9, factor=3, min_rows=10, n_rows=38)
    [(9, 10), (3, 30), (1, 38)]
    """
    rounds = []
    alive, rows = n_points, min(min_rows, n_rows)
    while alive:
        last = rows >= n_rows or alive == 1
        rounds.append((alive, n_rows if last else rows))
        if last:
            break
        alive, rows = max(1, math.ceil(alive / factor)), min(rows * factor, n_rows)
    return rounds
