"""The hand-written baselines dbt-sweep competes with, on the same data, estimators and split.

- ``train_group``: what a user writes by hand for one group: the demo's pipeline (median imputation,
  standard scaling, estimator) for every configuration, an 80/20 random split (seed 42), rmse/mae/r2/mape,
  the fitted pipeline pickled (the seed tutorial's way) into the output row.
- ``sequential``: a plain loop over groups in this process; sums the pure fit+score seconds (the
  ``ideal`` is that sum / cores) and separately what pickling and skops cost.
- ``joblib_loop``: the same loop spread over the cores by joblib (loky processes).
- the plain PySpark script is ``bench/plain_spark.py`` (run in its own process: its own JVM).
"""

from __future__ import annotations

import importlib
import json
import math
import pickle
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    r2_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

Config = tuple[str, str, dict[str, Any]]

OUTPUT_DDL = (
    "group_id string, estimator string, params string, rmse double, mae double, r2 double, mape double, "
    "fit_seconds double, score_seconds double, model binary"
)


def _pipeline(path: str, params: dict[str, Any]) -> Pipeline:
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("est", cls(**params)),
        ]
    )


def _split(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    train, test = train_test_split(
        np.arange(n), test_size=math.ceil(test_size * n), random_state=seed
    )
    return np.sort(train), np.sort(test)


def fit_score(
    X: pd.DataFrame, y: np.ndarray, split: tuple[np.ndarray, np.ndarray], config: Config
) -> dict[str, Any]:
    """Fit one configuration and score it on the test rows; times fit and score separately."""
    name, path, params = config
    train, test = split
    pipe = _pipeline(path, params)
    start = time.perf_counter()
    pipe.fit(X.iloc[train], y[train])
    fitted = time.perf_counter()
    pred = pipe.predict(X.iloc[test])
    truth = y[test]
    scores = {
        "rmse": float(math.sqrt(mean_squared_error(truth, pred))),
        "mae": float(mean_absolute_error(truth, pred)),
        "r2": float(r2_score(truth, pred)),
        "mape": float(mean_absolute_percentage_error(truth, pred)),
    }
    return {
        "estimator": name, "params": json.dumps(params, sort_keys=True), **scores,
        "fit_seconds": fitted - start, "score_seconds": time.perf_counter() - fitted, "pipeline": pipe,
    }  # fmt: skip


def train_group(
    frame: pd.DataFrame, configs: list[Config], *, features: list[str], target: str, group: str
) -> pd.DataFrame:
    """The grouped-map function of the plain PySpark script: one group in, one row per configuration out."""
    frame = frame.reset_index(drop=True)
    X, y = frame[features], frame[target].to_numpy()
    split = _split(len(y), 0.2, 42)
    rows = []
    for config in configs:
        result = fit_score(X, y, split, config)
        result["model"] = pickle.dumps(result.pop("pipeline"))
        rows.append({"group_id": str(frame[group].iloc[0]), **result})
    return pd.DataFrame(rows)


def _loop_one(
    frame: pd.DataFrame, configs: list[Config], features: list[str], target: str
) -> dict[str, float]:
    frame = frame.reset_index(drop=True)
    X, y = frame[features], frame[target].to_numpy()
    split = _split(len(y), 0.2, 42)
    totals = {"fit_score": 0.0, "pickle": 0.0, "fits": 0}
    unit = 0.0
    for config in configs:
        result = fit_score(X, y, split, config)
        seconds = result["fit_seconds"] + result["score_seconds"]
        totals["fit_score"] += seconds
        unit += seconds
        start = time.perf_counter()
        pickle.dumps(result["pipeline"])
        totals["pickle"] += time.perf_counter() - start
        totals["fits"] += 1
    totals["max_unit"] = unit
    return totals


def sequential(
    data: pd.DataFrame, configs: list[Config], *, features: list[str], target: str, group: str
) -> dict[str, Any]:
    """Train everything in this process, one group after another.

    Returns the loop's wall time, the sum of pure fit+score seconds, the largest per-group sum (a
    lower bound on any schedule that keeps a group's runs together), and pickle's total.
    """
    start = time.perf_counter()
    totals = {"fit_score": 0.0, "pickle": 0.0, "fits": 0, "max_unit": 0.0}
    for _, frame in data.groupby(group, sort=True):
        part = _loop_one(frame, configs, features, target)
        for key in ("fit_score", "pickle", "fits"):
            totals[key] += part[key]
        totals["max_unit"] = max(totals["max_unit"], part["max_unit"])
    totals["wall_seconds"] = time.perf_counter() - start
    return totals


def skops_cost(
    data: pd.DataFrame,
    configs: list[Config],
    *,
    features: list[str],
    target: str,
    group: str,
    sample: int = 20,
) -> float:
    """Seconds skops needs to serialise one fitted pipeline, averaged over up to ``sample`` fits."""
    import skops.io as sio

    seconds, count = 0.0, 0
    for _, frame in data.groupby(group, sort=True):
        frame = frame.reset_index(drop=True)
        X, y = frame[features], frame[target].to_numpy()
        split = _split(len(y), 0.2, 42)
        for config in configs:
            pipe = fit_score(X, y, split, config)["pipeline"]
            start = time.perf_counter()
            sio.dumps(pipe)
            seconds += time.perf_counter() - start
            count += 1
            if count >= sample:
                return seconds / count
    return seconds / max(count, 1)


def joblib_loop(
    data: pd.DataFrame,
    configs: list[Config],
    *,
    features: list[str],
    target: str,
    group: str,
    cores: int,
) -> float:
    """Wall seconds of the same loop over groups with ``joblib.Parallel(n_jobs=cores)`` (loky)."""
    from joblib import Parallel, delayed

    frames = [frame for _, frame in data.groupby(group, sort=True)]
    start = time.perf_counter()
    Parallel(n_jobs=cores, batch_size="auto")(
        delayed(train_group)(frame, configs, features=features, target=target, group=group)
        for frame in frames
    )
    return time.perf_counter() - start
