"""Spec + per-group statistics -> manifest rows: one row per training run.

A run is group x estimator x grid point, or group x estimator for a random or Optuna search or a
grid with successive halving (one run that tries ``trials`` configurations, or the grid's points,
and keeps the best). The manifest carries no data: each row
names its group, its estimator and parameters, and the work unit (group, shard)
it is trained in; ``train_unit`` gets the group's rows once per unit.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep.spec import EstimatorSpec, KFoldSplit, SweepSpec, canonical_hash, spec_hash
from dbt_sweep.spec.search import decode, grid_points, halving_plan

__all__ = [
    "MANIFEST_COLUMNS",
    "WORK_UNIT_SHARD_COLUMN",
    "build_manifest",
    "estimate_cost",
    "group_stats",
    "unit_columns",
]

WORK_UNIT_SHARD_COLUMN = "shard"
#: Columns after ``run_key`` and the group columns, in order.
MANIFEST_COLUMNS = [
    "estimator_name",
    "estimator",
    "params",
    "search",
    WORK_UNIT_SHARD_COLUMN,
    "n_rows",
    "data_fingerprint",
    "est_cost",
    "spec_hash",
]
# Spec parts that change what a run trains; ``key``/``time_column`` matter because
# ``features: {exclude: ...}`` resolves against them.
_TRAINING_PARTS = (
    "target",
    "features",
    "key",
    "time_column",
    "preprocessing",
    "split",
    "metrics",
    "task",
)
_KERNEL = (
    "SVR",
    "SVC",
    "NuSVR",
    "NuSVC",
    "KernelRidge",
    "GaussianProcessRegressor",
    "GaussianProcessClassifier",
)
_ENSEMBLE = ("Forest", "Boosting", "Bagging", "ExtraTrees")


def unit_columns(spec: SweepSpec) -> list[str]:
    """Return the work-unit columns: the group columns and ``shard``."""
    return [*spec.group_by, WORK_UNIT_SHARD_COLUMN]


def estimate_cost(
    estimator: str, params: Mapping[str, Any], *, n_rows: int, n_features: int
) -> float:
    """Estimate a run's fit time, in seconds-ish units, only to rank runs.

    - kernel methods (SVR, SVC, KernelRidge, Gaussian processes): ``1e-7 * n**2 * p``;
    - ensembles (forests, boosting, bagging): ``1e-7 * n_estimators * n * log2(n) * p``,
      with ``n_estimators`` (or ``max_iter``) from ``params``, default 100;
    - everything else (linear models, neighbours, trees): ``1e-7 * n * p``;
    plus 1 ms of fixed overhead per fit.
    """
    name = estimator.rpartition(".")[2]
    n, p = max(n_rows, 1), max(n_features, 1)
    if name in _KERNEL:
        work = n * n * p
    elif any(part in name for part in _ENSEMBLE):
        trees = params.get("n_estimators", params.get("max_iter", 100))
        work = float(trees if isinstance(trees, (int, float)) else 100) * n * math.log2(n + 1) * p
    else:
        work = n * p
    return 1e-3 + 1e-7 * work


def _run_params(est: EstimatorSpec) -> list[dict[str, Any]]:
    """Return the ``params`` of each run of one estimator.

    A grid gives one run per grid point; ``search: random`` or ``optuna`` gives one run that
    carries the fixed params plus ``space``, ``trials``, ``seed`` and, when set, ``halving`` or
    ``pruning``; a grid with ``halving`` gives one run that carries the fixed params plus ``grid``,
    ``halving`` and ``seed`` (see :mod:`dbt_sweep.training.search.core`).
    """
    if est.search == "grid" and est.halving is None:
        return [{**est.params, **point} for point in grid_points(est.grid)]
    search: dict[str, Any] = {"seed": est.seed}
    if est.search == "grid":
        search["grid"] = {name: list(values) for name, values in est.grid.items()}
    else:
        search["space"] = {name: dim.to_json() for name, dim in est.space.items()}
        search["trials"] = est.trials
    if est.halving is not None:
        search["halving"] = est.halving.model_dump()
    if est.pruning is not None:
        search["pruning"] = est.pruning.model_dump()
    return [{**est.params, **search}]


def _run_cost(
    est: EstimatorSpec, params: Mapping[str, Any], spec: SweepSpec, *, n_rows: int, n_features: int
) -> float:
    """Estimated cost of one run: one fit, ``trials`` fits for a search, the rounds of a halving."""
    one = estimate_cost(est.estimator, params, n_rows=n_rows, n_features=n_features)
    if not est.searched:
        return one
    config = decode(params)
    if config.halving is None:
        return config.trials * one
    # halving rounds fit on part of the search's training rows: the split's and the validation's
    test_size = float(getattr(spec.split, "test_size", 0.0))
    n_search = max(1, int(n_rows * (1 - test_size) ** 2))
    rounds = halving_plan(
        config.trials,
        factor=config.halving["factor"],
        min_rows=config.halving["min_rows"],
        n_rows=n_search,
    )
    return sum(
        alive * estimate_cost(est.estimator, params, n_rows=rows, n_features=n_features)
        for alive, rows in rounds
    )


def _plain(value: Any) -> Any:
    """Turn numpy/pandas scalars into JSON-friendly Python values for hashing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value


def _lpt(costs: list[float], n_shards: int, spread: list[int]) -> list[int]:
    """Assign runs to shards largest-cost-first onto the lightest shard (LPT).

    Equal-cost runs would go round-robin in grid order, so a grid axis whose length divides the
    shard count (two gammas, four shards) would put all its slow points in the same shards. They
    are taken in an order that deals ``spread`` (a grid point's diagonal, see
    :func:`_grid_spread`) modulo the shard count evenly, so every shard gets every value of every axis.
    """
    rank, seen = [], [0] * n_shards
    for value in spread:
        rank.append(seen[value % n_shards])
        seen[value % n_shards] += 1
    heap = [(0.0, shard) for shard in range(n_shards)]
    out = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], rank[i], spread[i] % n_shards, i)):
        load, shard = heapq.heappop(heap)
        out[i] = shard
        heapq.heappush(heap, (load + costs[i], shard))
    return out


def _grid_spread(est: EstimatorSpec, params: Mapping[str, Any]) -> int:
    """The sum of a grid point's value positions along each axis (0 for search runs): points on
    one diagonal differ in every axis, so dealing diagonals to shards mixes every axis."""
    if est.search != "grid" or est.halving is not None:
        return 0
    # identity first: grid_points hands out the grid's own value objects (a NaN equals only itself)
    return sum(
        next((i for i, v in enumerate(values) if v is params[name] or v == params[name]), 0)
        for name, values in est.grid.items()
    )


def build_manifest(
    spec: SweepSpec, groups: pd.DataFrame, *, parallelism: int, n_features: int | None = None
) -> pd.DataFrame:
    """Expand the spec over the groups into one row per training run.

    Parameters
    ----------
    spec : SweepSpec
        A validated spec.
    groups : DataFrame
        One row per group: the ``spec.group_by`` columns, ``n_rows`` and ``data_fingerprint``.
    parallelism : int
        Number of tasks the cluster runs at once; with ``shards: auto`` groups are split
        into shards when there are fewer than ``2 * parallelism`` of them.
    n_features : int or None, default=None
        Number of feature columns, for ``est_cost``; defaults to the length of
        ``spec.features`` when it is a list, else 10.

    Returns
    -------
    DataFrame
        Columns ``run_key``, the group columns (dtypes of ``groups``), then
        :data:`MANIFEST_COLUMNS`. Sorted by group, then estimator, then grid point.

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "feat", "group_by": "g", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 1.0]}}]},
    ...     model="sweep_manifest")
    >>> groups = pd.DataFrame({"g": ["a", "b"], "n_rows": [30, 40], "data_fingerprint": ["f1", "f2"]})
    >>> build_manifest(spec, groups, parallelism=1)[["g", "estimator_name", "params", "shard"]]
       g estimator_name          params  shard
    0  a          ridge  {"alpha": 0.1}      0
    1  a          ridge  {"alpha": 1.0}      0
    2  b          ridge  {"alpha": 0.1}      0
    3  b          ridge  {"alpha": 1.0}      0
    """
    groups = groups.sort_values(spec.group_by, kind="stable", ignore_index=True)
    p = (
        n_features
        if n_features is not None
        else (len(spec.features) if isinstance(spec.features, list) else 10)
    )
    folds = spec.split.folds + 1 if isinstance(spec.split, KFoldSplit) else 1
    training = spec.model_dump(mode="json", include=set(_TRAINING_PARTS))
    runs = [(est, params) for est in spec.estimators for params in _run_params(est)]
    n_groups = len(groups)
    per_group = 1
    if spec.shards == "auto" and n_groups < 2 * parallelism:
        per_group = math.ceil(2 * parallelism / max(n_groups, 1))
    elif spec.shards != "auto":
        per_group = int(spec.shards)
    n_shards = max(1, min(len(runs), per_group))
    spread = [_grid_spread(est, params) for est, params in runs]
    rows: list[dict[str, Any]] = []
    positions: list[int] = []
    for pos, group in enumerate(groups.to_dict("records")):
        n_rows = int(group["n_rows"])
        key_values = {col: _plain(group[col]) for col in spec.group_by}
        costs = [
            folds * _run_cost(est, params, spec, n_rows=n_rows, n_features=p)
            for est, params in runs
        ]
        shards = _lpt(costs, n_shards, spread)
        for (est, params), cost, shard in zip(runs, costs, shards, strict=True):
            identity = {
                "group": key_values,
                "name": est.name,
                "estimator": est.estimator,
                "params": params,
            }
            rows.append(
                {
                    "run_key": canonical_hash({**identity, "spec": training}),
                    "estimator_name": est.name,
                    "estimator": est.estimator,
                    "params": json.dumps(params, sort_keys=True, default=str),
                    "search": est.search,
                    WORK_UNIT_SHARD_COLUMN: shard,
                    "n_rows": n_rows,
                    "data_fingerprint": str(group["data_fingerprint"]),
                    "est_cost": cost,
                }
            )
            positions.append(pos)
    body = pd.DataFrame(rows, columns=["run_key", *MANIFEST_COLUMNS[:-1]])
    body = body.astype({WORK_UNIT_SHARD_COLUMN: "int32", "n_rows": "int64", "est_cost": "float64"})
    body["spec_hash"] = spec_hash(spec)
    keys = groups[spec.group_by].iloc[positions].reset_index(drop=True)
    return pd.concat([body[["run_key"]], keys, body[MANIFEST_COLUMNS]], axis=1)


def group_stats(features: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Compute ``n_rows`` and an order-independent ``data_fingerprint`` per group (pandas).

    For notebooks and tests; the dbt model computes the same statistics in Spark. A group's
    fingerprint is the SHA-256 of its rows' hashes (every column, in name order) sorted, then the
    column names. The rows are hashed in one call and sorted within their groups by one sort: a
    frame and a hash call per group cost more than W1's training overhead in one process.
    """
    by = list(spec.group_by)
    columns = sorted(features.columns)
    names = ",".join(columns).encode()
    grouped = features.groupby(by, sort=True, dropna=False)
    sizes = grouped.size()
    codes = grouped.ngroup().to_numpy()
    hashes = pd.util.hash_pandas_object(features[columns], index=False).to_numpy()
    ordered = hashes[np.lexsort((hashes, codes))]  # by group, then hash within it
    ends = np.cumsum(sizes.to_numpy())
    rows = []
    for (values, size), end in zip(sizes.items(), ends, strict=True):
        digest = hashlib.sha256(ordered[end - size : end].tobytes() + names).hexdigest()[:16]
        rows.append((*(values if isinstance(values, tuple) else (values,)), size, digest))
    return pd.DataFrame(rows, columns=[*by, "n_rows", "data_fingerprint"]).astype(
        {**features.dtypes[by].to_dict(), "n_rows": "int64"}
    )
