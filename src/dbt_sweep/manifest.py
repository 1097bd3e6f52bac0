"""Spec + per-group statistics -> manifest rows: one row per training run.

A run is group x estimator x grid point, or group x estimator for a random or Optuna search
(one run that tries ``trials`` configurations and keeps the best). The manifest carries no data: each row
names its group, its estimator and parameters, and the work unit (group, shard)
it is trained in; ``train_unit`` gets the group's rows once per unit.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep.spec import EstimatorSpec, KFoldSplit, SweepSpec, canonical_hash, spec_hash

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
_TRAINING_PARTS = ("target", "features", "key", "time_column", "preprocessing", "split", "metrics", "task")
_KERNEL = ("SVR", "SVC", "NuSVR", "NuSVC", "KernelRidge", "GaussianProcessRegressor", "GaussianProcessClassifier")
_ENSEMBLE = ("Forest", "Boosting", "Bagging", "ExtraTrees")


def unit_columns(spec: SweepSpec) -> list[str]:
    """Return the work-unit columns: the group columns and ``shard``."""
    return [*spec.group_by, WORK_UNIT_SHARD_COLUMN]


def estimate_cost(estimator: str, params: Mapping[str, Any], *, n_rows: int, n_features: int) -> float:
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


def _grid_points(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def _run_params(est: EstimatorSpec) -> list[dict[str, Any]]:
    """Return the ``params`` of each run of one estimator.

    A grid gives one run per grid point; ``search: random`` or ``optuna`` gives one run that
    carries the fixed params plus ``space``, ``trials`` and ``seed`` (see :mod:`dbt_sweep._search`).
    """
    if est.search == "grid":
        return [{**est.params, **point} for point in _grid_points(est.grid)]
    space = {name: dim.to_json() for name, dim in est.space.items()}
    search = {"space": space, "trials": est.trials, "seed": est.seed}
    if est.halving is not None:
        search["halving"] = est.halving.model_dump()
    return [{**est.params, **search}]


def _plain(value: Any) -> Any:
    """Turn numpy/pandas scalars into JSON-friendly Python values for hashing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value


def _lpt(costs: list[float], n_shards: int) -> list[int]:
    """Assign runs to shards largest-cost-first onto the lightest shard (LPT)."""
    heap = [(0.0, shard) for shard in range(n_shards)]
    out = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, shard = heapq.heappop(heap)
        out[i] = shard
        heapq.heappush(heap, (load + costs[i], shard))
    return out


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
    p = n_features if n_features is not None else (len(spec.features) if isinstance(spec.features, list) else 10)
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
    rows: list[dict[str, Any]] = []
    positions: list[int] = []
    for pos, group in enumerate(groups.to_dict("records")):
        n_rows = int(group["n_rows"])
        key_values = {col: _plain(group[col]) for col in spec.group_by}
        costs = [
            folds * (est.trials or 1) * estimate_cost(est.estimator, params, n_rows=n_rows, n_features=p)
            for est, params in runs
        ]
        shards = _lpt(costs, n_shards)
        for (est, params), cost, shard in zip(runs, costs, shards, strict=True):
            identity = {"group": key_values, "name": est.name, "estimator": est.estimator, "params": params}
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

    For notebooks and tests; the dbt model computes the same statistics in Spark.
    """
    rows = []
    for values, frame in features.groupby(spec.group_by, sort=True, dropna=False):
        hashes = np.sort(pd.util.hash_pandas_object(frame[sorted(frame.columns)], index=False).to_numpy())
        digest = hashlib.sha256(hashes.tobytes() + ",".join(sorted(frame.columns)).encode()).hexdigest()[:16]
        rows.append((*values, len(frame), digest))
    return pd.DataFrame(rows, columns=[*spec.group_by, "n_rows", "data_fingerprint"]).astype(
        {**features.dtypes[spec.group_by].to_dict(), "n_rows": "int64"}
    )
