"""Tests for search: random / optuna: spec keys, manifest rows, trials, direction, determinism, splits."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import make_regression
from sklearn.preprocessing import StandardScaler

from dbt_sweep.exceptions import SweepSpecError
from dbt_sweep.manifest import build_manifest, estimate_cost, group_stats
from dbt_sweep.training import train_group
from dbt_sweep.training.prepare import prepare_unit
from dbt_sweep.training.search import validation_split
from dbt_sweep.training.search.core import sample_random
from dbt_sweep.training.search.trials import best_trial
from dbt_sweep.training.serialize import load_model

from conftest import make_spec

PREFIX = "The '{}' key of the sweep spec in model 'sweep_runs' "
SPACE = {"C": {"float": [0.1, 10], "log": True}, "kernel": {"choice": ["linear", "rbf"]}}


def _svr(search: str = "optuna", **changes: Any) -> dict[str, Any]:
    est = {
        "name": f"svr_{search}",
        "estimator": "sklearn.svm.SVR",
        "search": search,
        "space": SPACE,
        "trials": 6,
    }
    return {**est, **changes}


def _sgd(**changes: Any) -> dict[str, Any]:
    est = {
        "name": "sgd",
        "estimator": "sklearn.linear_model.SGDRegressor",
        "search": "optuna",
        "space": {
            "alpha": {"float": [1e-6, 1.0], "log": True},
            "eta0": {"float": [1e-4, 0.5], "log": True},
        },
        "params": {"learning_rate": "constant"},
        "trials": 12,
        "pruning": {"pruner": "median", "epochs": 8, "warmup": 2},
    }
    return {**est, **changes}


def _ridge() -> dict[str, Any]:
    return {
        "name": "ridge",
        "estimator": "sklearn.linear_model.Ridge",
        "grid": {"alpha": [0.1, 1.0]},
    }


BAD = [
    (
        {"estimators": [_ridge(), _svr(space={"C": {"float": [10, 1]}})]},
        PREFIX.format("sweep.estimators[1].space.C.float")
        + "must be a list [low, high] with low < high. "
        "Got [10.0, 1.0] instead.",
    ),
    (
        {"estimators": [_svr(space={"C": {"float": [0, 1], "log": True}})]},
        PREFIX.format("sweep.estimators[0].space.C.float")
        + "must have low > 0 with log: true. Got [0.0, 1.0] instead.",
    ),
    (
        {"estimators": [_svr(space={"C": {"float": [-1.0, 1.0]}})]},
        PREFIX.format("sweep.estimators[0].space.C")
        + "must be a float in the range (0.0, inf]. Got -1.0 instead.",
    ),
    (
        {"estimators": [_svr(space={"C": {"int": [1, 2], "float": [1, 2]}})]},
        PREFIX.format("sweep.estimators[0].space.C")
        + "must set exactly one of 'choice', 'int', 'float'. "
        "Got {'int': [1, 2], 'float': [1.0, 2.0]} instead.",
    ),
    (
        {"estimators": [_svr(space={"C": {"ints": [1, 2]}})]},
        PREFIX.format("sweep.estimators[0].space.C.ints") + "is not a valid key. "
        "Valid keys are: ['choice', 'float', 'int', 'log'].",
    ),
    (
        {"estimators": [_svr(space={"Cee": {"float": [1, 2]}})]},
        PREFIX.format("sweep.estimators[0].space.Cee")
        + "is not a parameter of SVR. Valid parameters are: "
        "['C', 'cache_size', 'coef0', 'degree', 'epsilon', 'gamma', 'kernel', 'max_iter', 'shrinking', 'tol', "
        "'verbose'].",
    ),
    (
        {"estimators": [_svr(trials=0)]},
        PREFIX.format("sweep.estimators[0].trials") + "must be an int >= 1. Got 0 instead.",
    ),
    (
        {"estimators": [_svr(search="random", trials=None)]},
        PREFIX.format("sweep.estimators[0].trials")
        + "is required with search 'random' but missing; add it.",
    ),
    (
        {"estimators": [_svr(grid={"C": [1.0]})]},
        PREFIX.format("sweep.estimators[0].grid")
        + "is only used with search: grid. Got search 'optuna' instead; "
        "write the values as sweep.estimators[0].space.<param>: {choice: [...]}.",
    ),
    (
        {"estimators": [{"estimator": "sklearn.svm.SVR", "space": SPACE}]},
        PREFIX.format("sweep.estimators[0].space")
        + "is only used with search: random or optuna. Got search 'grid' "
        "instead; set sweep.estimators[0].search or remove sweep.estimators[0].space.",
    ),
    (
        {"estimators": [_svr(search="bayes")]},
        PREFIX.format("sweep.estimators[0].search")
        + "must be one of 'grid', 'random' or 'optuna'. Got 'bayes' instead.",
    ),
    (
        {"estimators": [_svr(params={"C": 1.0})]},
        PREFIX.format("sweep.estimators[0].space.C")
        + "is also set in sweep.estimators[0].params; set it in one place.",
    ),
    (
        {"estimators": [_svr(halving={"factor": 3})]},
        PREFIX.format("sweep.estimators[0].halving")
        + "is only implemented for search: random or grid. "
        "Got search 'optuna' instead; remove it (Optuna stops trials early with sweep.estimators[0].pruning).",
    ),
    (
        {"estimators": [_svr(pruning={"pruner": "median", "epochs": 10})]},
        PREFIX.format("sweep.estimators[0].pruning")
        + "needs an estimator with partial_fit (each trial trains epoch by epoch). Got estimator "
        "'sklearn.svm.SVR' instead, and SVR has no partial_fit; use one that has (SGDRegressor, "
        "SGDClassifier, MLPRegressor, MLPClassifier, Perceptron, ...) or remove sweep.estimators[0].pruning.",
    ),
    (
        {"estimators": [_sgd(search="random")]},
        PREFIX.format("sweep.estimators[0].pruning") + "is only implemented for search: optuna. "
        "Got search 'random' instead; set sweep.estimators[0].search: optuna or remove "
        "sweep.estimators[0].pruning.",
    ),
    (
        {"estimators": [_sgd(pruning={"epochs": 5, "warmup": 5})]},
        PREFIX.format("sweep.estimators[0].pruning.warmup")
        + "must be less than sweep.estimators[0].pruning.epochs (5), or no trial can be pruned. "
        "Got 5 instead.",
    ),
    (
        {"estimators": [{**_ridge(), "grid": {"alpha": [1.0]}, "halving": {}}]},
        PREFIX.format("sweep.estimators[0].grid")
        + "must have at least 2 points with sweep.estimators[0].halving (halving picks among the "
        "grid's configurations). Got 1 point(s) instead; add values or remove sweep.estimators[0].halving.",
    ),
    (
        {"estimators": [{**_ridge(), "halving": {}}], "split": {"kind": "kfold", "folds": 3}},
        PREFIX.format("sweep.estimators[0].halving")
        + "is set, which needs a random or time split (trials are scored on a validation split carved "
        "from the training rows). Got sweep.split.kind 'kfold' instead.",
    ),
    (
        {"estimators": [{**_ridge(), "halving": {}, "params": {"seed": 3}}]},
        PREFIX.format("sweep.estimators[0].params.seed")
        + "is reserved with halving; it cannot be a fixed param.",
    ),
    (
        {"estimators": [_svr()], "split": {"kind": "kfold", "folds": 3}},
        PREFIX.format("sweep.estimators[0].search")
        + "is 'optuna', which needs a random or time split (trials are "
        "scored on a validation split carved from the training rows). Got sweep.split.kind 'kfold' instead.",
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_bad_search_spec_message(changes: dict[str, Any], message: str) -> None:
    """Each bad search key names its key path, what was expected and what was received."""
    with pytest.raises(SweepSpecError, match=f"^{re.escape(message)}$"):
        make_spec(**changes)


def test_manifest_has_one_search_row_per_group_with_scaled_cost(
    regression_group: pd.DataFrame,
) -> None:
    """Grid runs stay expanded; a search is one row per group carrying space, trials and seed."""
    spec = make_spec(estimators=[_ridge(), _svr(params={"epsilon": 0.2}, seed=7)])
    stats = group_stats(pd.concat([regression_group, regression_group.assign(group_id="g2")]), spec)
    manifest = build_manifest(spec, stats, parallelism=1, n_features=4)
    assert manifest.groupby("group_id")["search"].apply(list).to_dict() == {
        "g1": ["grid", "grid", "optuna"], "g2": ["grid", "grid", "optuna"]
    }  # fmt: skip
    row = manifest[manifest["search"] == "optuna"].iloc[0]
    assert json.loads(row["params"]) == {
        "epsilon": 0.2, "trials": 6, "seed": 7,
        "space": {"C": {"float": [0.1, 10.0], "log": True}, "kernel": {"choice": ["linear", "rbf"]}},
    }  # fmt: skip
    assert row["est_cost"] == pytest.approx(
        6 * estimate_cost("sklearn.svm.SVR", {}, n_rows=60, n_features=4)
    )
    again = build_manifest(spec, stats, parallelism=1, n_features=4)
    assert again["run_key"].tolist() == manifest["run_key"].tolist()
    other_seed = build_manifest(
        make_spec(estimators=[_ridge(), _svr(params={"epsilon": 0.2}, seed=8)]),
        stats,
        parallelism=1,
    )
    assert other_seed["run_key"].iloc[2] != manifest["run_key"].iloc[2]
    assert other_seed["run_key"].iloc[0] == manifest["run_key"].iloc[0]


def test_random_samples_are_seeded_and_within_bounds() -> None:
    """default_rng(seed) draws: same seed, same points; ints are ints, log floats stay in range."""
    space = {
        "a": {"int": [2, 5], "log": False},
        "b": {"float": [0.01, 10.0], "log": True},
        "c": {"choice": [1, "x"]},
    }
    points = sample_random(space, trials=200, seed=3)
    assert (
        points
        == sample_random(space, trials=200, seed=3)
        != sample_random(space, trials=200, seed=4)
    )
    assert {p["a"] for p in points} == {2, 3, 4, 5} and all(isinstance(p["a"], int) for p in points)
    assert all(0.01 <= p["b"] <= 10.0 for p in points) and np.median([p["b"] for p in points]) < 1.0
    assert {p["c"] for p in points} == {1, "x"}


@pytest.mark.parametrize(
    ("direction", "expected"), [("minimize", 1), ("maximize", 2)], ids=["minimize", "maximize"]
)
def test_best_trial_follows_the_direction(direction: str, expected: int) -> None:
    """Lowest value for errors, highest for scores; failed trials never win; ties go to the first."""
    records = [
        {"number": 0, "value": 0.5, "state": "COMPLETE"},
        {"number": 1, "value": 0.1, "state": "COMPLETE"},
        {"number": 2, "value": 0.9, "state": "COMPLETE"},
        {"number": 3, "value": None, "state": "FAIL"},
        {"number": 4, "value": 0.9 if direction == "maximize" else 0.1, "state": "COMPLETE"},
    ]
    assert best_trial(records, direction=direction)["number"] == expected


@pytest.mark.parametrize("search", ["random", "optuna"])
@pytest.mark.parametrize(("primary", "pick"), [("rmse", min), ("r2", max)])
def test_search_run_keeps_the_best_trial_in_the_metric_direction(
    regression_group: pd.DataFrame, search: str, primary: str, pick: Any
) -> None:
    """The run's params are the best trial's (lowest rmse, highest r2) merged with the fixed params."""
    spec = make_spec(
        estimators=[_svr(search, params={"epsilon": 0.5}, trials=8)], metrics=["rmse", "r2"], primary_metric=primary,
        preprocessing={"scale": "standard"},
    )  # fmt: skip
    run = train_group(regression_group, spec).iloc[0]
    assert run["status"] == "ok", run["error"]
    trials = json.loads(run["trials"])
    assert [t["number"] for t in trials] == list(range(8))
    assert {t["state"] for t in trials} == {"COMPLETE"}
    best = pick(trials, key=lambda t: t["value"])
    assert json.loads(run["params"]) == {"epsilon": 0.5, **best["params"]}
    assert run["primary_metric"] == run[primary]
    assert (run["n_train"], run["n_test"]) == (48, 12)


def test_search_model_is_refit_on_the_training_split_and_scored_on_the_test_split(
    regression_group: pd.DataFrame,
) -> None:
    """The stored model is the best params refit on all 48 training rows; its test metrics reproduce."""
    spec = make_spec(estimators=[_svr("random")], preprocessing={"scale": "standard"})
    run = train_group(regression_group, spec).iloc[0]
    pipe = load_model(run["model"])
    assert pipe.get_params()["estimator__C"] == json.loads(run["params"])["C"]
    group = prepare_unit(regression_group, spec)
    train, test = group.splits[0]
    assert pipe[-1].shape_fit_[0] == len(train) == 48
    pred = pipe.predict(group.X.iloc[test])
    assert np.sqrt(np.mean((pred - group.y[test]) ** 2)) == pytest.approx(run["rmse"])


def test_same_spec_data_and_seed_give_the_same_trials_and_winner(
    regression_group: pd.DataFrame,
) -> None:
    """Two runs agree on every trial's params, value and state, and on the winner and its predictions."""
    spec = make_spec(
        estimators=[_svr("optuna", trials=11), _svr("random", trials=5)],
        preprocessing={"scale": "standard"},
        store_models="all",
    )

    def strip(text: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in t.items() if k != "seconds"} for t in json.loads(text)]

    first, second = train_group(regression_group, spec), train_group(regression_group, spec)
    assert [strip(t) for t in first["trials"]] == [strip(t) for t in second["trials"]]
    assert first["params"].tolist() == second["params"].tolist()
    X = regression_group[[f"x{i}" for i in range(4)]]
    for a, b in zip(first["model"], second["model"], strict=True):  # skops bytes embed object ids
        assert np.array_equal(load_model(a).predict(X), load_model(b).predict(X))
    other = make_spec(estimators=[_svr("optuna", trials=11, seed=1), _svr("random", trials=5, seed=1)],
                      preprocessing={"scale": "standard"})  # fmt: skip
    assert strip(train_group(regression_group, other)["trials"][0]) != strip(first["trials"][0])


def test_validation_split_is_carved_from_the_training_rows_only(
    regression_group: pd.DataFrame,
) -> None:
    """Validation rows are training rows: disjoint from the test rows, seeded, the rest trains."""
    spec = make_spec(estimators=[_svr()])
    train, test = prepare_unit(regression_group, spec).splits[0]
    y = regression_group["y"].to_numpy()
    inner, val = validation_split(train, size=0.2, seed=0, y=y, stratify=False)
    assert set(val).isdisjoint(test) and set(inner).isdisjoint(test) and set(inner).isdisjoint(val)
    assert sorted([*inner, *val]) == sorted(train) and len(val) == 10
    assert np.array_equal(val, validation_split(train, size=0.2, seed=0, y=y, stratify=False)[1])
    assert not np.array_equal(
        val, validation_split(train, size=0.2, seed=1, y=y, stratify=False)[1]
    )


def test_time_split_validates_on_the_latest_training_rows(regression_group: pd.DataFrame) -> None:
    """With a time split the validation rows are the latest training rows, as the test rows are the latest."""
    frame = regression_group.assign(t=pd.date_range("2024-01-01", periods=60, freq="D")[::-1])
    spec = make_spec(
        estimators=[_svr()],
        split={"kind": "time", "column": "t", "test_size": 0.2},
        features=["x0", "x1"],
    )
    group = prepare_unit(frame, spec)
    train, test = group.splits[0]
    inner, val = validation_split(
        train, size=0.2, seed=0, y=group.y, stratify=False, order=group.order
    )
    times = frame.sort_values("row_id")["t"].to_numpy()
    assert times[val].min() > times[inner].max() and times[test].min() > times[val].max()


class _Recorder(RegressorMixin, BaseEstimator):
    """Predicts the mean; records the training rows (their ``row`` feature) it was fit on."""

    seen: list[set[int]] = []

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> _Recorder:
        type(self).seen.append(set(np.asarray(X)[:, 0].astype(int)))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), self.mean_ + self.alpha)


def test_trials_never_fit_or_score_on_test_rows(regression_group: pd.DataFrame) -> None:
    """Every trial fits on training rows minus validation rows; only the final refit sees all training rows."""
    _Recorder.seen = []
    frame = regression_group.assign(row=regression_group["row_id"])
    spec = make_spec(
        estimators=[{"estimator": "test_search._Recorder", "search": "random", "trials": 3,
                     "space": {"alpha": {"float": [0.0, 1.0]}}}],
        allowed_modules=["test_search."], features=["row"], preprocessing={"scale": "none"},
    )  # fmt: skip
    run = train_group(frame, spec).iloc[0]
    assert run["status"] == "ok", run["error"]
    train, test = prepare_unit(frame, spec).splits[0]
    *trials, final = _Recorder.seen
    assert len(trials) == 3 and all(len(s) == 38 and s < set(train) for s in trials)
    assert final == set(train) and final.isdisjoint(test)


def test_all_trials_failing_fails_the_run(regression_group: pd.DataFrame) -> None:
    """A search whose every trial fails is a failed run with the first error; other runs are unaffected."""
    spec = make_spec(
        estimators=[_ridge(), {"estimator": "sklearn.linear_model.PoissonRegressor", "search": "random",
                               "trials": 2, "space": {"alpha": {"float": [0.1, 1.0]}}}],
    )  # fmt: skip
    runs = train_group(regression_group, spec)
    assert runs["status"].tolist() == ["ok", "ok", "failed"]
    assert (
        runs["error"]
        .iloc[2]
        .startswith("SearchError: all 2 trials of the random search failed; first error: ")
    )
    assert len(json.loads(runs["trials"].iloc[2])) == 2 and runs["trials"].iloc[:2].isna().all()


def test_optuna_is_quiet(
    regression_group: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """No per-trial log lines from Optuna."""
    train_group(
        regression_group,
        make_spec(estimators=[_svr(trials=3)], preprocessing={"scale": "standard"}),
    )
    captured = capsys.readouterr()
    assert "Trial" not in captured.err + captured.out


def test_successive_halving_prunes_rounds_and_keeps_the_best_of_the_last(
    regression_group: pd.DataFrame,
) -> None:
    """9 configurations on 10 rows, the best 3 on 30 rows, the best one on all 38 search training rows."""
    _Recorder.seen = []
    frame = regression_group.assign(row=regression_group["row_id"])
    spec = make_spec(
        estimators=[{"estimator": "test_search._Recorder", "search": "random", "trials": 9, "seed": 2,
                     "space": {"alpha": {"float": [0.0, 5.0]}}, "halving": {"factor": 3, "min_rows": 10}}],
        allowed_modules=["test_search."], features=["row"], preprocessing={"scale": "none"},
    )  # fmt: skip
    manifest_params = json.loads(
        build_manifest(spec, group_stats(frame, spec), parallelism=1)["params"][0]
    )
    assert manifest_params["halving"] == {"factor": 3, "min_rows": 10}
    run = train_group(frame, spec).iloc[0]
    assert run["status"] == "ok", run["error"]
    trials = json.loads(run["trials"])
    assert [len(s) for s in _Recorder.seen] == [10] * 9 + [30] * 3 + [38] + [48]
    assert sorted(t["state"] for t in trials) == ["COMPLETE"] + ["PRUNED"] * 8
    assert sorted(t["rows"] for t in trials) == [10] * 6 + [30] * 2 + [38]
    winner = next(t for t in trials if t["state"] == "COMPLETE")
    assert json.loads(run["params"]) == winner["params"] and winner["rounds"] == 3
    survivors = sorted((t for t in trials if t["rows"] >= 30), key=lambda t: t["number"])
    assert all(t["value"] >= winner["value"] for t in survivors)


def _big_group(rows: int = 200) -> pd.DataFrame:
    """One regression group large enough for SGD to separate good and bad learning rates."""
    X, y = make_regression(n_samples=rows, n_features=4, noise=5.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
    frame.insert(0, "group_id", "g1")
    frame.insert(1, "row_id", np.arange(rows))
    frame["y"] = y
    return frame


def _sgd_spec(**changes: Any) -> Any:
    space = {
        "alpha": {"float": [1e-6, 1.0], "log": True},
        "eta0": {"float": [1e-5, 0.1], "log": True},
    }
    return make_spec(
        estimators=[_sgd(**{"space": space, "trials": 20, **changes})],
        preprocessing={"scale": "standard"},
    )


def _strip(text: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in t.items() if k != "seconds"} for t in json.loads(text)]


def test_pruned_optuna_search_stops_bad_trials_and_refits_the_winner_epoch_by_epoch() -> None:
    """Trials report after each epoch; pruned ones stop early; the winner is refit with 9 partial_fit epochs."""
    frame = _big_group()
    spec = _sgd_spec(pruning={"pruner": "median", "epochs": 9, "warmup": 1})
    run = train_group(frame, spec).iloc[0]
    assert run["status"] == "ok", run["error"]
    trials = json.loads(run["trials"])
    pruned = [t for t in trials if t["state"] == "PRUNED"]
    done = [t for t in trials if t["state"] == "COMPLETE"]
    assert len(pruned) >= 5 and len(done) >= 5 and len(trials) == 20
    assert all(1 <= t["epochs"] < 9 for t in pruned) and all(t["epochs"] == 9 for t in done)
    assert all(
        t["value"] is not None for t in trials
    )  # a pruned trial keeps the value it was pruned at
    best = min(done, key=lambda t: t["value"])
    params = json.loads(run["params"])
    assert params == {"learning_rate": "constant", "random_state": 0, **best["params"]}
    pipe = load_model(run["model"])
    group = prepare_unit(frame, spec)
    train, test = group.splits[0]
    assert pipe[-1].t_ == 9 * len(train) + 1  # 9 passes of partial_fit over the 160 training rows
    pred = pipe.predict(group.X.iloc[test])
    assert np.sqrt(np.mean((pred - group.y[test]) ** 2)) == pytest.approx(run["rmse"])


def test_pruned_search_without_preprocessing_trains_the_estimator_alone() -> None:
    """With no imputation or scaling the pipeline is the estimator alone: trials and the refit
    partial_fit it on the raw columns (an empty preprocessing Pipeline cannot fit)."""
    frame = _big_group()
    spec = make_spec(
        estimators=[_sgd(space={"alpha": {"float": [1e-6, 1.0], "log": True}}, trials=4,
                         pruning={"pruner": "median", "epochs": 3, "warmup": 1})],
        preprocessing={"scale": "none"},
    )  # fmt: skip
    run = train_group(frame, spec).iloc[0]
    assert run["status"] == "ok", run["error"]
    assert [name for name, _ in load_model(run["model"]).steps] == ["estimator"]


def test_search_trials_take_the_units_fitted_preprocessing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The preprocessing is fitted once per set of rows: once on the search training rows for
    every pruned trial, once on the training split for the winner's refit and the grid's runs."""
    fitted: list[int] = []
    fit_transform = StandardScaler.fit_transform

    def counting(self: StandardScaler, X: Any, y: Any = None, **kwargs: Any) -> Any:
        fitted.append(len(X))
        return fit_transform(self, X, y, **kwargs)

    monkeypatch.setattr(StandardScaler, "fit_transform", counting)
    frame = _big_group()
    spec = make_spec(
        estimators=[_sgd(trials=6, pruning={"pruner": "median", "epochs": 3, "warmup": 1}), _ridge()],
        preprocessing={"scale": "standard"},
        shards=1,  # one work unit: units never share fitted steps
    )  # fmt: skip
    runs = train_group(frame, spec)
    assert runs["status"].tolist() == ["ok"] * 3, runs["error"].tolist()
    train = prepare_unit(frame, spec).splits[0][0]
    assert sorted(fitted) == [len(train) - 32, len(train)]  # 32 validation rows of 160


@pytest.mark.parametrize("pruner", ["median", "hyperband", "successive_halving"])
def test_pruned_search_is_deterministic(pruner: str) -> None:
    """Same spec, data and seed: the same trials (params, values, states, epochs) and winner; another seed differs."""
    frame = _big_group()
    spec = _sgd_spec(pruning={"pruner": pruner, "epochs": 9, "warmup": 1})
    first, second = train_group(frame, spec).iloc[0], train_group(frame, spec).iloc[0]
    assert "PRUNED" in {t["state"] for t in json.loads(first["trials"])}
    assert _strip(first["trials"]) == _strip(second["trials"])
    assert first["params"] == second["params"] and first["rmse"] == second["rmse"]
    other = train_group(
        frame, _sgd_spec(pruning={"pruner": pruner, "epochs": 9, "warmup": 1}, seed=1)
    )
    assert _strip(other["trials"].iloc[0]) != _strip(first["trials"])


def test_search_fixes_an_unset_random_state_to_the_seed_and_keeps_a_set_one() -> None:
    """An estimator with random_state gets random_state=seed in a search unless the spec sets it."""
    frame = _big_group(80)
    unset = train_group(frame, _sgd_spec(pruning=None, trials=3, seed=5)).iloc[0]
    assert json.loads(unset["params"])["random_state"] == 5
    fixed = _sgd_spec(
        pruning=None, trials=3, seed=5, params={"learning_rate": "constant", "random_state": 11}
    )
    assert json.loads(train_group(frame, fixed).iloc[0]["params"])["random_state"] == 11


@pytest.mark.parametrize(
    ("primary", "pick"),
    [("f1", max), ("accuracy", max), ("log_loss", min)],
    ids=["f1", "accuracy", "log_loss"],
)
@pytest.mark.parametrize("search", ["random", "optuna"])
def test_classification_search_follows_the_metric_direction(
    wine_group: pd.DataFrame, search: str, primary: str, pick: Any
) -> None:
    """Classification: the best trial maximises f1/accuracy and minimises log_loss; the run is refit and tested."""
    est = {
        "name": "logreg", "estimator": "sklearn.linear_model.LogisticRegression", "search": search,
        "space": {"C": {"float": [1e-4, 100.0], "log": True}}, "trials": 8, "params": {"max_iter": 500},
    }  # fmt: skip
    spec = make_spec(
        task="classification", target="y", key=None, estimators=[est], metrics=["accuracy", "f1", "log_loss"],
        primary_metric=primary, preprocessing={"scale": "standard"}, min_rows=20,
    )  # fmt: skip
    run = train_group(wine_group, spec).iloc[0]
    assert run["status"] == "ok", run["error"]
    trials = json.loads(run["trials"])
    values = [t["value"] for t in trials]
    assert len(set(values)) > 1  # the choice matters, so the direction is tested
    best = pick(trials, key=lambda t: t["value"])
    assert json.loads(run["params"])["C"] == best["params"]["C"]
    assert run["primary_metric"] == run[primary] and spec.primary_direction == (
        "maximize" if pick is max else "minimize"
    )


def test_pruned_classification_search_minimises_log_loss(wine_group: pd.DataFrame) -> None:
    """SGDClassifier trials get every class on each partial_fit; the winner has the lowest validation log loss."""
    est = {
        "name": "sgd", "estimator": "sklearn.linear_model.SGDClassifier", "search": "optuna",
        "params": {"loss": "log_loss", "learning_rate": "constant"}, "trials": 12,
        "space": {"alpha": {"float": [1e-5, 1.0], "log": True}, "eta0": {"float": [1e-4, 1.0], "log": True}},
        "pruning": {"pruner": "median", "epochs": 6, "warmup": 1},
    }  # fmt: skip
    spec = make_spec(
        task="classification", target="y", key=None, estimators=[est], metrics=["log_loss", "accuracy"],
        primary_metric="log_loss", preprocessing={"scale": "standard"}, min_rows=20,
    )  # fmt: skip
    run = train_group(wine_group, spec).iloc[0]
    assert run["status"] == "ok", run["error"]
    trials = json.loads(run["trials"])
    done = [t for t in trials if t["state"] == "COMPLETE"]
    assert (
        json.loads(run["params"])["alpha"] == min(done, key=lambda t: t["value"])["params"]["alpha"]
    )
    assert list(load_model(run["model"])[-1].classes_) == [0, 1, 2]


def test_grid_with_halving_is_one_search_run_over_the_grid_points(
    regression_group: pd.DataFrame,
) -> None:
    """A grid + halving is one manifest row per group; its 9 points are halved 9 -> 3 -> 1 on 10, 30, 38 rows."""
    _Recorder.seen = []
    frame = regression_group.assign(row=regression_group["row_id"])
    grid = {"alpha": [float(a) for a in range(9)]}
    spec = make_spec(
        estimators=[{"name": "rec", "estimator": "test_search._Recorder", "grid": grid,
                     "halving": {"factor": 3, "min_rows": 10}}, _ridge()],
        allowed_modules=["test_search.", "sklearn."], features=["row"], preprocessing={"scale": "none"},
    )  # fmt: skip
    manifest = build_manifest(spec, group_stats(frame, spec), parallelism=1, n_features=1)
    assert manifest["search"].tolist() == ["grid"] * 3 and len(manifest) == 1 + 2
    row = manifest.iloc[0]
    assert json.loads(row["params"]) == {
        "grid": grid,
        "halving": {"factor": 3, "min_rows": 10},
        "seed": 0,
    }
    cost = sum(
        alive * estimate_cost("test_search._Recorder", {}, n_rows=rows, n_features=1)
        for alive, rows in [(9, 10), (3, 30), (1, 38)]
    )
    assert row["est_cost"] == pytest.approx(cost)
    runs = train_group(frame, spec)
    run = runs.iloc[0]
    assert run["status"] == "ok", run["error"]
    assert runs["trials"].iloc[1:].isna().all()  # the plain Ridge grid stays one run per point
    trials = json.loads(run["trials"])
    assert [t["params"] for t in trials] == [{"alpha": a} for a in grid["alpha"]]
    assert [len(s) for s in _Recorder.seen[:14]] == [10] * 9 + [30] * 3 + [38] + [48]
    assert sorted(t["state"] for t in trials) == ["COMPLETE"] + ["PRUNED"] * 8
    winner = next(t for t in trials if t["state"] == "COMPLETE")
    assert json.loads(run["params"]) == winner["params"] and (winner["rows"], winner["rounds"]) == (
        38,
        3,
    )


def test_pruned_mlp_search_prunes_and_repeats() -> None:
    """MLPRegressor trials train epoch by epoch too (a list-valued choice included); two runs agree."""
    est = {
        "name": "mlp", "estimator": "sklearn.neural_network.MLPRegressor", "search": "optuna", "trials": 12,
        "space": {"learning_rate_init": {"float": [1e-4, 0.1], "log": True},
                  "hidden_layer_sizes": {"choice": [[8], [32, 8]]}},
        "pruning": {"pruner": "median", "epochs": 15, "warmup": 3},
    }  # fmt: skip
    spec = make_spec(estimators=[est], preprocessing={"scale": "standard"})
    frame = _big_group()
    first, second = train_group(frame, spec).iloc[0], train_group(frame, spec).iloc[0]
    assert first["status"] == "ok", first["error"]
    trials = json.loads(first["trials"])
    assert {t["state"] for t in trials} == {"COMPLETE", "PRUNED"}
    assert all(
        3 <= t["epochs"] < 15 for t in trials if t["state"] == "PRUNED"
    )  # never before the warmup
    assert (
        _strip(first["trials"]) == _strip(second["trials"]) and first["params"] == second["params"]
    )
    assert (
        load_model(first["model"])[-1].t_ == 15 * 160
    )  # the winner saw the 160 training rows 15 times
