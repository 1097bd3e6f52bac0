"""Shared fixtures for the pure-Python unit tests: raw specs and small pandas groups."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine, make_regression

from dbt_sweep.spec import SweepSpec, parse_spec

REPO = Path(__file__).resolve().parents[2]


def demo_copy(folder: Path) -> Path:
    """The demo dbt project copied into ``folder``, with the example profile."""
    for name in ("models", "python_models", "macros", "seeds"):
        shutil.copytree(REPO / name, folder / name)
    shutil.copy(REPO / "dbt_project.yml", folder)
    shutil.copy(REPO / "profiles.example.yml", folder / "profiles.yml")
    return folder


FULL_SPEC: dict[str, Any] = {
    "source": "feat_demo_regression",
    "group_by": ["group_id"],
    "target": "y",
    "key": "row_id",
    "time_column": None,
    "features": {"exclude": []},
    "task": "regression",
    "estimators": [
        {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 1.0]}},
        {
            "name": "svr",
            "estimator": "sklearn.svm.SVR",
            "params": {"epsilon": 0.1},
            "grid": {"C": [0.1, 1.0, 10.0], "kernel": ["linear", "rbf"]},
        },
    ],
    "preprocessing": {
        "impute": {"strategy": "median"},
        "one_hot": {"columns": "auto"},
        "scale": "standard",
        "select_k_best": {"k": 5},
    },
    "split": {"kind": "random", "test_size": 0.2, "seed": 0},
    "metrics": ["mae", "rmse", "r2"],
    "primary_metric": "rmse",
    "min_rows": 20,
    "allowed_modules": ["sklearn."],
    "shards": "auto",
    "tracking": {
        "enabled": True,
        "experiment": "demo_sweep",
        "uri": "sqlite:///mlflow.db",
        "level": "runs",
        "log_models": "best",
        "register": False,
        "on_error": "fail",
        "rerun": False,
    },
}


@pytest.fixture
def raw_spec() -> dict[str, Any]:
    """A deep copy of a valid spec using every key."""
    return copy.deepcopy(FULL_SPEC)


def make_spec(**changes: Any) -> SweepSpec:
    """Parse ``FULL_SPEC`` with top-level keys replaced (``None`` removes a key)."""
    raw = {**copy.deepcopy(FULL_SPEC), **changes}
    return parse_spec({k: v for k, v in raw.items() if v is not None}, model="sweep_runs")


@pytest.fixture
def regression_group() -> pd.DataFrame:
    """One group of 60 rows from make_regression, with a key column."""
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
    frame.insert(0, "group_id", "g1")
    frame.insert(1, "row_id", np.arange(60))
    frame["y"] = y
    return frame


@pytest.fixture
def wine_group() -> pd.DataFrame:
    """sklearn's wine data (178 rows, 3 classes) as one group."""
    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns={"target": "y"})
    frame.insert(0, "group_id", 7)
    return frame
