"""Tests for dbt_sweep.training: one output row per manifest row, statuses, splits, metrics, models."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from dbt_sweep.manifest import build_manifest, group_stats
from dbt_sweep.metrics import compute_metrics
from dbt_sweep.spec import SweepSpec
from dbt_sweep.training import (
    canonical_order,
    holdout_rows,
    run_columns,
    run_schema,
    train_group,
    train_unit,
)
from dbt_sweep.training.pipeline import build_pipeline
from dbt_sweep.training.prepare import prepare_unit
from dbt_sweep.training.serialize import load_model

from conftest import make_spec

RIDGE = [{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 1.0]}}]
WINE_SPEC = {
    "task": "classification", "group_by": "group_id", "key": None, "target": "y",
    "metrics": ["accuracy", "f1", "roc_auc", "log_loss"], "primary_metric": "accuracy",
    "preprocessing": {"scale": "standard"},
    "estimators": [{"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}}],
}  # fmt: skip


class Exploding(RegressorMixin, BaseEstimator):
    """An estimator whose fit always raises."""

    def fit(self, X: object, y: object) -> Exploding:
        raise ValueError("boom")


def _run(features: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    return train_unit(
        features, build_manifest(spec, group_stats(features, spec), parallelism=1), spec
    )


def test_regression_ok_rows_and_schema(regression_group: pd.DataFrame) -> None:
    """Every run succeeds with sane metrics, and the output matches run_columns with nullable dtypes."""
    spec = make_spec(
        estimators=RIDGE, preprocessing={"impute": {"strategy": "mean"}, "scale": "minmax"}
    )
    runs = _run(regression_group.assign(shard=0), spec)
    assert runs["status"].tolist() == ["ok", "ok"]
    assert runs["error"].isna().all()
    assert (runs["r2"] > 0.85).all() and (runs["rmse"] >= runs["mae"]).all()
    assert runs["primary_metric"].equals(runs["rmse"].rename("primary_metric"))
    assert runs[["n_train", "n_test"]].values.tolist() == [[48, 12], [48, 12]]
    assert (runs["fit_seconds"] > 0).all() and (runs["score_seconds"] > 0).all()
    assert list(runs.columns) == [name for name, _ in run_columns(spec, {"group_id": "string"})]
    assert runs.dtypes.astype(str).to_dict() == {
        "run_key": "object", "group_id": "object", "estimator_name": "object", "estimator": "object",
        "params": "object", "search": "object", "shard": "int32", "status": "object", "error": "object",
        "mae": "float64", "rmse": "float64", "r2": "float64", "primary_metric": "float64", "n_train": "Int64",
        "n_test": "Int64", "fit_seconds": "float64", "score_seconds": "float64", "model": "object",
        "trained_at": "datetime64[ns, UTC]", "trials": "object",
    }  # fmt: skip
    assert run_schema(spec, {"group_id": "string"}).startswith(
        "`run_key` string, `group_id` string, "
    )


def test_model_loads_and_predicts_identically(regression_group: pd.DataFrame) -> None:
    """The stored skops bytes load with load_model and predict like a refit of the same pipeline."""
    spec = make_spec(estimators=RIDGE)
    runs = _run(regression_group, spec)
    model = load_model(runs.loc[0, "model"])
    X = regression_group[["x0", "x1", "x2", "x3"]]
    again = load_model(_run(regression_group, spec).loc[0, "model"])
    np.testing.assert_allclose(model.predict(X), again.predict(X))
    assert model.named_steps["estimator"].alpha == 0.1


@pytest.mark.parametrize(
    "preprocessing",
    [
        {"impute": {"strategy": "median"}, "scale": "standard"},
        {"scale": "minmax", "select_k_best": {"k": 2}},
    ],
)
def test_shared_preprocessing_equals_fitting_each_pipeline(
    regression_group: pd.DataFrame, preprocessing: dict
) -> None:
    """Runs of a unit share the fitted preprocessing; every stored model predicts exactly as
    ``build_pipeline(...).fit`` on the same training rows would, and owns its estimator."""
    estimators = [
        *RIDGE,
        {"estimator": "sklearn.tree.DecisionTreeRegressor", "params": {"random_state": 0}},
    ]
    spec = make_spec(estimators=estimators, preprocessing=preprocessing, store_models="all")
    runs = _run(regression_group, spec)
    assert runs["status"].tolist() == ["ok"] * 3
    group = prepare_unit(regression_group, spec)
    train, test = group.splits[0]
    for _, run in runs.iterrows():
        alone = build_pipeline(
            run["estimator"], json.loads(run["params"]), spec.preprocessing, task=spec.task,
            numeric=group.numeric, categorical=group.categorical, n_encoded=group.n_encoded,
        ).fit(group.X.iloc[train], group.y[train])  # fmt: skip
        # the unit fits on a float64 array; the stored model is the DataFrame fit's, names
        # included, and so are its metrics (to the last bits: memory layout orders numpy's sums)
        scores = compute_metrics(alone, group.X.iloc[test], group.y[test], spec.metrics or [])
        assert {name: run[name] for name in scores} == pytest.approx(scores, rel=1e-12)
        stored = load_model(run["model"])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "X has feature names, but ... was fitted without"
            np.testing.assert_allclose(stored.predict(group.X), alone.predict(group.X))
        assert list(stored.feature_names_in_) == list(group.X.columns)
        assert [name for name, _ in stored.steps] == [name for name, _ in alone.steps]
    alphas = [
        load_model(m).named_steps["estimator"].get_params().get("alpha") for m in runs["model"]
    ]
    assert alphas[:2] == [0.1, 1.0]


def test_runs_on_the_same_rows_share_one_transform_of_the_test_rows(
    regression_group: pd.DataFrame,
) -> None:
    """scoring_input transforms a split's test rows once for every pipeline fitted through the
    unit on the same training rows; the estimator alone then predicts exactly as the pipeline
    would. A pipeline fitted elsewhere is scored as it is."""
    preprocessing = {"impute": {"strategy": "median"}, "scale": "standard"}
    spec = make_spec(estimators=RIDGE, preprocessing=preprocessing)
    unit = prepare_unit(regression_group, spec)
    train, test = unit.splits[0]

    def pipeline(alpha: float):
        return build_pipeline(
            "sklearn.linear_model.Ridge", {"alpha": alpha}, spec.preprocessing, task=spec.task,
            numeric=unit.numeric, categorical=unit.categorical, n_encoded=unit.n_encoded,
        )  # fmt: skip

    first, second = pipeline(0.1), pipeline(10.0)
    unit.fit(first, train)
    unit.fit(second, train)
    (model_a, X_a), (model_b, X_b) = (unit.scoring_input(p, train, test) for p in (first, second))
    assert model_a is first.steps[-1][1] and model_b is second.steps[-1][1]
    assert X_b is X_a  # transformed once
    for pipe, model, X in ((first, model_a, X_a), (second, model_b, X_b)):
        np.testing.assert_array_equal(model.predict(X), pipe.predict(unit.take(test)))

    foreign = pipeline(1.0).fit(unit.take(train), unit.y[train])
    model, X = unit.scoring_input(foreign, train, test)
    assert model is foreign
    np.testing.assert_array_equal(X, unit.take(test))


@pytest.mark.parametrize("primary", ["rmse", "r2"])
def test_store_models_best_keeps_only_the_units_winner(
    regression_group: pd.DataFrame, primary: str
) -> None:
    """store_models: best (the default) stores the bytes of the unit's best ok run only, by the
    primary metric in its direction, as sweep_best_models ranks; all stores every ok run's."""
    estimators = [
        {"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 100.0]}},
        {"estimator": "sklearn.tree.DecisionTreeRegressor", "params": {"max_depth": 1}},
        {"estimator": f"{__name__}.Exploding"},
    ]
    spec = make_spec(
        estimators=estimators, primary_metric=primary, allowed_modules=["sklearn.", __name__]
    )
    assert spec.store_models == "best"
    runs = _run(regression_group, spec)
    assert runs["status"].tolist() == ["ok", "ok", "ok", "failed"]
    ok = runs[runs["status"] == "ok"]
    best = ok[primary].idxmin() if primary == "rmse" else ok[primary].idxmax()
    assert runs["model"].notna().tolist() == [i == best for i in runs.index]
    assert load_model(runs.loc[best, "model"]).predict(
        regression_group[["x0", "x1", "x2", "x3"]]
    ).shape == (60,)
    every = _run(regression_group, make_spec(estimators=estimators[:2], store_models="all"))
    assert every["model"].notna().all()


def test_one_failing_estimator_keeps_every_row(regression_group: pd.DataFrame) -> None:
    """A run whose fit raises is 'failed' with the error; the other runs still succeed."""
    estimators = [
        {"estimator": "sklearn.linear_model.Ridge"},
        {"estimator": f"{__name__}.Exploding"},
    ]
    spec = make_spec(estimators=estimators, allowed_modules=["sklearn.", __name__])
    manifest = build_manifest(spec, group_stats(regression_group, spec), parallelism=1)
    runs = train_unit(regression_group, manifest, spec)
    assert runs["status"].tolist() == ["ok", "failed"]
    assert runs.loc[1, "error"] == "ValueError: boom"
    assert runs.loc[1, ["mae", "primary_metric"]].isna().all() and runs.loc[1, "model"] is None
    assert runs["n_train"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        (lambda f: f.iloc[:0], "skipped", "no rows for this group in feat_demo_regression"),
        (lambda f: f.iloc[:7], "skipped", "group has 7 rows; sweep.min_rows is 20"),
        (
            lambda f: f.assign(y=f["y"].where(f.index >= 3)),
            "failed",
            "target 'y' has 3 null values in this group; filter them in the feature model",
        ),
    ],
    ids=["empty-features", "tiny-group", "null-target"],
)
def test_group_problems(
    regression_group: pd.DataFrame, change: object, status: str, error: str
) -> None:
    """Group-level problems turn every manifest row into a skipped/failed row with the reason."""
    spec = make_spec(estimators=RIDGE)
    manifest = build_manifest(spec, group_stats(regression_group, spec), parallelism=1)
    runs = train_unit(change(regression_group), manifest, spec)  # type: ignore[operator]
    assert runs["status"].tolist() == [status, status]
    assert runs["error"].tolist() == [error, error]
    assert runs["run_key"].tolist() == manifest["run_key"].tolist()


def test_single_class_and_too_few_rows_for_folds(wine_group: pd.DataFrame) -> None:
    """A one-class target and a group smaller than the fold count are skipped."""
    spec = make_spec(**WINE_SPEC)
    one_class = wine_group[wine_group["y"] == 1]
    assert _run(one_class, spec)["error"].tolist() == [
        "target 'y' has a single class (1) in this group"
    ]
    kfold = make_spec(**{**WINE_SPEC, "split": {"kind": "kfold", "folds": 25}, "min_rows": 2})
    runs = _run(wine_group.iloc[::10], kfold)
    assert runs["error"].tolist() == ["group has 18 rows, fewer than sweep.split.folds (25)"]


def test_empty_manifest(regression_group: pd.DataFrame) -> None:
    """An empty manifest gives an empty frame with the output columns."""
    spec = make_spec(estimators=RIDGE)
    manifest = build_manifest(spec, group_stats(regression_group, spec), parallelism=1).iloc[:0]
    runs = train_unit(regression_group, manifest, spec)
    assert runs.empty and list(runs.columns) == [
        n for n, _ in run_columns(spec, {"group_id": "string"})
    ]


def test_time_split_holds_out_the_latest_rows(regression_group: pd.DataFrame) -> None:
    """The time split's test set is the last test_size fraction by time, whatever the row order."""
    frame = regression_group.assign(t=pd.date_range("2024-01-01", periods=60, freq="D")).sample(
        frac=1, random_state=0
    )
    spec = make_spec(estimators=RIDGE, split={"kind": "time", "column": "t", "test_size": 0.25})
    group = prepare_unit(frame, spec)
    ((train, test),) = group.splits
    times = canonical_order(frame, spec)["t"]
    assert len(test) == 15 and times[test].min() > times[train].max()
    assert "t" not in group.X.columns
    assert _run(frame, spec)["status"].tolist() == ["ok", "ok"]


def test_row_order_does_not_change_the_split_or_the_scores(regression_group: pd.DataFrame) -> None:
    """Spark may deliver a group's rows in any order; the runs' splits and metrics do not change."""
    spec = make_spec(estimators=RIDGE)
    shuffled = regression_group.sample(frac=1, random_state=3)
    metrics = ["rmse", "mae", "r2"]
    assert _run(regression_group, spec)[metrics].equals(_run(shuffled, spec)[metrics])
    held_out = holdout_rows(shuffled, spec)
    assert len(held_out) == 12
    assert held_out.equals(holdout_rows(regression_group, spec))


def test_kfold_means_and_refit(regression_group: pd.DataFrame) -> None:
    """k-fold: metrics over all held-out rows, the stored model refit on every row."""
    spec = make_spec(estimators=RIDGE, split={"kind": "kfold", "folds": 4})
    runs = _run(regression_group, spec)
    assert runs["status"].tolist() == ["ok", "ok"]
    assert runs[["n_train", "n_test"]].values.tolist() == [[60, 60], [60, 60]]
    assert (runs["r2"] > 0.95).all()


def test_classification_metrics_multiclass(wine_group: pd.DataFrame) -> None:
    """Wine: accuracy, macro f1, ovr roc_auc and log_loss on a stratified split."""
    runs = _run(wine_group, make_spec(**WINE_SPEC))
    row = runs.iloc[0]
    assert row["status"] == "ok", row["error"]
    assert row["accuracy"] > 0.85 and row["f1"] > 0.85 and 0.9 < row["roc_auc"] <= 1.0
    assert 0 < row["log_loss"] < 0.5 and row["primary_metric"] == row["accuracy"]


def test_classification_binary_decision_function_and_missing_proba(
    wine_group: pd.DataFrame,
) -> None:
    """Binary roc_auc uses decision_function without predict_proba; log_loss without it fails clearly."""
    binary = wine_group[wine_group["y"] < 2]
    spec = make_spec(
        **{
            **WINE_SPEC,
            "metrics": ["accuracy", "f1", "roc_auc"],
            "estimators": [{"estimator": "sklearn.svm.SVC"}],
        }
    )
    row = _run(binary, spec).iloc[0]
    assert row["status"] == "ok" and 0.9 < row["roc_auc"] <= 1.0
    row = _run(
        binary, make_spec(**{**WINE_SPEC, "estimators": [{"estimator": "sklearn.svm.SVC"}]})
    ).iloc[0]
    assert row["status"] == "failed"
    assert row["error"] == (
        "ValueError: metric 'log_loss' needs predict_proba, which SVC does not provide; "
        "enable probabilities (e.g. probability=True) or remove 'log_loss' from sweep.metrics."
    )


def test_categorical_features_with_nulls_and_selection(regression_group: pd.DataFrame) -> None:
    """String features with nulls are imputed and one-hot encoded; SelectKBest's k is capped."""
    frame = regression_group.assign(city=np.where(regression_group.index % 3 == 0, "a", "b"))
    frame.loc[::7, "city"] = None
    frame.loc[::5, "x0"] = np.nan
    frame["flag"] = pd.array(frame.index % 2 == 0, dtype="boolean")
    spec = make_spec(estimators=RIDGE, preprocessing={
        "impute": {"strategy": "median"}, "one_hot": {"columns": "auto"}, "scale": "standard",
        "select_k_best": {"k": 50}})  # fmt: skip
    runs = _run(frame, spec)
    assert runs["status"].tolist() == ["ok", "ok"], runs["error"].tolist()
    selector = load_model(runs.loc[0, "model"]).named_steps["select"]
    assert selector.k == 7  # x0..x3, flag, city=a, city=b


def test_train_group_filters_estimator(regression_group: pd.DataFrame) -> None:
    """train_group builds the manifest itself and trains each group; estimator= picks one estimator."""
    frame = pd.concat([regression_group, regression_group.assign(group_id="g2")], ignore_index=True)
    spec = make_spec(
        estimators=[*RIDGE, {"estimator": "sklearn.linear_model.Lasso", "name": "lasso"}]
    )
    runs = train_group(frame, spec, estimator="lasso")
    assert runs["group_id"].tolist() == ["g1", "g2"] and set(runs["status"]) == {"ok"}


def test_raise_errors_lets_a_runs_exception_through(regression_group: pd.DataFrame) -> None:
    """For debugging one group: the failing run's own exception, not a `failed` row."""
    spec = make_spec(estimators=[{"estimator": "sklearn.linear_model.PoissonRegressor"}])
    shifted = regression_group.assign(y=regression_group["y"] - 1000)
    assert train_group(shifted, spec)["status"].tolist() == ["failed"]
    with pytest.raises(ValueError, match="Some value"):
        train_group(shifted, spec, raise_errors=True)


@pytest.mark.parametrize("split", [{"kind": "random", "seed": 3}, "time"], ids=["random", "time"])
def test_refit_stores_the_winner_fitted_on_every_row(
    regression_group: pd.DataFrame, split: Any
) -> None:
    """refit: true stores each unit's winner refit on all its rows (a time-split winner has seen
    the latest rows); the metrics stay those of the held-out evaluation."""
    frame = regression_group.assign(t=np.arange(len(regression_group)))
    if split == "time":
        split = {"kind": "time", "column": "t", "test_size": 0.25}
    held_out = _run(frame, make_spec(estimators=RIDGE, split=split))
    refit = _run(frame, make_spec(estimators=RIDGE, split=split, refit=True))
    pd.testing.assert_series_equal(held_out["rmse"], refit["rmse"])
    best = refit["model"].notna()
    assert best.sum() == 1 and refit.loc[best, "n_train"].item() == len(frame)
    assert (held_out.loc[best, "n_train"] < len(frame)).all()
    spec = make_spec(estimators=RIDGE, split=split)
    group = prepare_unit(frame, spec)
    alpha = json.loads(refit.loc[best, "params"].item())["alpha"]
    expected = build_pipeline(
        "sklearn.linear_model.Ridge", {"alpha": alpha}, spec.preprocessing, task="regression",
        numeric=group.numeric, categorical=group.categorical, n_encoded=group.n_encoded,
    ).fit(group.X, group.y)  # fmt: skip
    stored = load_model(refit.loc[best, "model"].item())
    np.testing.assert_allclose(stored.predict(group.X), expected.predict(group.X))
