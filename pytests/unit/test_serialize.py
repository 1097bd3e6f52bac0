"""Tests for dbt_sweep.training.serialize: skops round trip and the explicit list of trusted types."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestRegressor, StackingRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from dbt_sweep.exceptions import UntrustedModelError
from dbt_sweep.spec import PreprocessingSpec
from dbt_sweep.training.model_bytes import canonical_skops
from dbt_sweep.training.pipeline import build_pipeline
from dbt_sweep.training.serialize import (
    HELPER_FAMILIES,
    HELPER_TYPES,
    dump_model,
    helper_types,
    load_model,
    trusted_types,
)

REMEDY = (
    "Pass allowed_modules=... with their module prefixes only if you created the blob yourself "
    "or fully trust its source."
)


def refused(types: list[str], allowed: list[str]) -> str:
    """The exact UntrustedModelError message, anchored, as a regex."""
    message = (
        f"The model blob contains types outside the allowed modules {allowed}: {types}. {REMEDY}"
    )
    return f"^{re.escape(message)}$"


class Custom(BaseEstimator):
    """An estimator outside the default allowlist."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> Custom:
        return self


class NotAnEstimator:
    """A plain class in the same module: neither an estimator nor a helper type."""

    def __init__(self) -> None:
        self.value = 3


def plain_function() -> None:
    """A function in the same module: never trusted by module."""


def reduce_payload(module: str, name: str, args: tuple[Any, ...]) -> bytes:
    """skops bytes that *call* ``module.name(*args)`` while loading (a ConstructorFromReduceNode).

    This is what a rewritten ``model`` cell can hold: the node type skops uses for objects rebuilt
    from a constructor and its arguments, pointing at any function the file names.
    """
    with zipfile.ZipFile(io.BytesIO(sio.dumps(args))) as archive:
        content = json.loads(archive.read("schema.json"))
    schema = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": content,
        "__id__": 1,
        "protocol": content.pop("protocol"),
        "_skops_version": content.pop("_skops_version"),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return out.getvalue()


def test_round_trip_predicts_identically() -> None:
    """A forest (whose Tree type skops does not trust by default) loads and predicts the same."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(load_model(dump_model(model)).predict(X), model.predict(X))


# ---------- the exploits of issue 17: code named in the bytes is refused, never built or called


def test_a_blob_that_runs_python_while_loading_is_refused(tmp_path: Any) -> None:
    """sklearn's test helper runs Python source from the file; the "sklearn." prefix trusted it."""
    marker = tmp_path / "pwned"
    data = reduce_payload(
        "sklearn.utils._testing",
        "assert_run_python_script_without_output",
        (f"open({str(marker)!r}, 'w').write('x')",),
    )
    expected = ["sklearn.utils._testing.assert_run_python_script_without_output"]
    with pytest.raises(UntrustedModelError, match=refused(expected, ["sklearn."])):
        load_model(data)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "types"),
    [
        (np.load, ["numpy.load"]),
        (eval, ["builtins.eval"]),
        (os.system, [f"{os.system.__module__}.system"]),
        (make_pipeline(FunctionTransformer(np.load), Ridge()), ["numpy.load"]),
        (plain_function, [f"{__name__}.plain_function"]),
    ],
    ids=["numpy.load", "builtins.eval", "posix.system", "numpy.load-in-a-pipeline", "a-function"],
)
def test_functions_are_refused(payload: Any, types: list[str]) -> None:
    """A function is never trusted for its module: numpy.load loaded as trusted under "numpy."."""
    with pytest.raises(UntrustedModelError, match=refused(types, ["sklearn."])):
        load_model(sio.dumps(payload))


def test_the_allowlist_admits_estimator_classes_only() -> None:
    """An allowed module lends trust to its estimator classes, not its functions or other classes."""
    here = [f"{__name__}."]
    assert load_model(dump_model(Custom(alpha=2.0)), allowed_modules=here).alpha == 2.0
    with pytest.raises(UntrustedModelError, match=refused([f"{__name__}.Custom"], ["sklearn."])):
        load_model(dump_model(Custom(alpha=2.0)))
    for obj, name in [(plain_function, "plain_function"), (NotAnEstimator(), "NotAnEstimator")]:
        with pytest.raises(UntrustedModelError, match=refused([f"{__name__}.{name}"], here)):
            load_model(sio.dumps(obj), allowed_modules=here)


def test_trusted_names_one_type_by_name_or_type() -> None:
    """``trusted`` admits the listed types only, like skops' own ``trusted``."""
    data = sio.dumps([NotAnEstimator(), Custom()])
    assert load_model(data, trusted=[NotAnEstimator, f"{__name__}.Custom"])[0].value == 3
    with pytest.raises(UntrustedModelError, match=refused([f"{__name__}.Custom"], ["sklearn."])):
        load_model(data, trusted=[NotAnEstimator])


def test_trusted_types_returns_what_skops_needs() -> None:
    """For callers that load with skops themselves (MLflow's skops_trusted_types)."""
    model = make_pipeline(DecisionTreeRegressor(max_depth=2)).fit([[0.0], [1.0]], [0.0, 1.0])
    data = dump_model(model)
    trusted = trusted_types(data)
    assert trusted == sio.get_untrusted_types(data=data)
    assert "sklearn.tree._tree.Tree" in trusted
    assert sio.loads(data, trusted=trusted).predict([[1.0]]) == [1.0]


def test_every_helper_type_exists_in_this_sklearn() -> None:
    """A renamed private type would silently drop out of the list: fail here instead."""
    names = helper_types()
    for module, attribute in HELPER_TYPES:
        assert any(name.endswith(f".{attribute}") for name in names), (module, attribute)
    for module, attribute, prefix in HELPER_FAMILIES:
        assert sum(name.startswith(prefix) for name in names) > 1, (module, attribute)
    assert not [name for name in names if name.rpartition(".")[2] in {"load", "eval", "system"}]


# ---------- every model a sweep builds still loads


def _frame(n: int = 90) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z"], size=n).astype(object),
        }
    )
    y = np.abs(2 * X["b"].to_numpy() + rng.normal(size=n)) + 0.1  # positive: Poisson
    X.loc[3, "a"] = np.nan
    X.loc[5, "c"] = np.nan
    labels = np.where(X["b"] > 0, "high", "low")
    return X, y, labels


FULL = {
    "impute": {"strategy": "median"},
    "one_hot": {"columns": "auto"},
    "scale": "standard",
    "select_k_best": {"k": 3},
}
NUMERIC = {"impute": {"strategy": "mean"}, "scale": "minmax", "select_k_best": {"k": 1}}
REGRESSORS = [
    "sklearn.linear_model.LinearRegression",
    "sklearn.linear_model.Ridge",
    "sklearn.linear_model.PoissonRegressor",
    "sklearn.linear_model.TweedieRegressor",
    "sklearn.linear_model.SGDRegressor",
    "sklearn.svm.SVR",
    "sklearn.ensemble.RandomForestRegressor",
    "sklearn.ensemble.GradientBoostingRegressor",
    "sklearn.ensemble.HistGradientBoostingRegressor",
    "sklearn.neighbors.KNeighborsRegressor",
    "sklearn.neural_network.MLPRegressor",
]
CLASSIFIERS = [
    "sklearn.linear_model.LogisticRegression",
    "sklearn.linear_model.SGDClassifier",
    "sklearn.ensemble.RandomForestClassifier",
    "sklearn.ensemble.GradientBoostingClassifier",
    "sklearn.ensemble.HistGradientBoostingClassifier",
    "sklearn.neighbors.KNeighborsClassifier",
    "sklearn.neural_network.MLPClassifier",
    "sklearn.svm.SVC",
]
CASES = [
    *[(e, "regression", FULL) for e in REGRESSORS],
    *[(e, "classification", FULL) for e in CLASSIFIERS],
    ("sklearn.linear_model.Ridge", "regression", NUMERIC),
    ("sklearn.ensemble.RandomForestClassifier", "classification", NUMERIC),
    ("sklearn.linear_model.LinearRegression", "regression", {"impute": {"strategy": "median"}}),
]


# a few fits stop at max_iter on 90 rows: the point here is the file, not convergence
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    ("estimator", "task", "preprocessing"),
    CASES,
    ids=[f"{e.rpartition('.')[2]}-{'full' if p is FULL else len(p)}" for e, _, p in CASES],
)
def test_sweep_pipelines_load(estimator: str, task: str, preprocessing: dict[str, Any]) -> None:
    """build_pipeline's pipelines (imputer, scaler, one-hot ColumnTransformer, SelectKBest) load."""
    X, y, labels = _frame()
    categorical = ["c"] if "one_hot" in preprocessing else []
    X = X[["a", "b", *categorical]]
    pipe = build_pipeline(
        estimator, {}, PreprocessingSpec.model_validate(preprocessing), task=task,
        numeric=["a", "b"], categorical=categorical, n_encoded=5,
    )  # fmt: skip
    pipe.fit(X, labels if task == "classification" else y)
    data = dump_model(pipe)
    # the direct canonical writer gives exactly the bytes of skops's own dumps made canonical
    assert data == canonical_skops(sio.dumps(pipe))
    loaded = load_model(data)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "model",
    [
        KNeighborsRegressor(algorithm="ball_tree", metric="manhattan"),
        KNeighborsRegressor(algorithm="kd_tree", p=1),
        KNeighborsClassifier(metric="minkowski", p=3),
        MLPRegressor(solver="sgd", max_iter=50),
        GaussianProcessRegressor(),
        CalibratedClassifierCV(LogisticRegression(), cv=2),
        StackingRegressor([("ridge", Ridge())], final_estimator=LinearRegression()),
    ],
    ids=[
        "ball-tree",
        "kd-tree",
        "minkowski",
        "mlp-sgd",
        "gaussian-process",
        "calibrated",
        "stacking",
    ],
)
def test_estimators_with_helper_types_load(model: Any) -> None:
    """Distance metrics, neighbour trees, optimizers, kernels, calibrators and Bunch are trusted."""
    X, y, labels = _frame()
    X = X[["a", "b"]].fillna(0.0)
    target = labels if isinstance(model, (KNeighborsClassifier, CalibratedClassifierCV)) else y
    model.fit(X, target)
    data = dump_model(model)
    assert data == canonical_skops(sio.dumps(model))
    loaded = load_model(data)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_pipeline(StandardScaler(), SVR()),
        lambda: make_pipeline(
            StandardScaler(), RandomForestRegressor(n_estimators=3, random_state=0)
        ),
    ],
    ids=["svr", "forest"],
)
def test_identical_models_give_identical_bytes(make) -> None:
    """Two fits of one model on one data set give the same bytes (skops alone names arrays by
    id() and stamps the time), and the bytes load into the same predictions."""
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = X[:, 0] - X[:, 1]
    first, second = make().fit(X, y), make().fit(X, y)
    assert sio.dumps(first) != sio.dumps(second)  # what dump_model makes canonical
    data = dump_model(first)
    assert data == dump_model(second)
    np.testing.assert_array_equal(load_model(data).predict(X), first.predict(X))
