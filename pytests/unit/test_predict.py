"""Batch prediction on plain pandas frames: every input row gets an output row, ok or with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from dbt_sweep.scoring.predict import (
    ScoringConfigError,
    ScoringSpec,
    parse_scoring,
    prediction_columns,
    score_unit,
)
from dbt_sweep.spec import parse_spec
from dbt_sweep.training import holdout_rows, train_group
from dbt_sweep.training.serialize import dump_model

FEATURES = ["x0", "x1", "x2"]


def make_spec(task: str = "regression", **overrides):
    estimator = (
        "sklearn.linear_model.Ridge"
        if task == "regression"
        else "sklearn.linear_model.LogisticRegression"
    )
    raw = {
        "source": "feat",
        "group_by": "g",
        "key": "id",
        "target": "y",
        "task": task,
        "features": FEATURES,
        "estimators": [{"estimator": estimator}],
        "preprocessing": {"impute": {"strategy": "median"}},
        **overrides,
    }
    return parse_spec(raw, model="sweep_runs")


def group_frame(task: str = "regression", n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = X @ [1.0, 2.0, -1.0] + rng.normal(scale=0.1, size=n)
    if task == "classification":
        y = (y > 0).astype(int)
    return pd.DataFrame(
        {"id": np.arange(n), "g": "a", **dict(zip(FEATURES, X.T, strict=True)), "y": y}
    )


def winner(features: pd.DataFrame, spec) -> pd.DataFrame:
    runs = train_group(features, spec)
    assert runs["status"].tolist() == ["ok"], runs["error"].tolist()
    return runs[
        ["run_key", "estimator_name", "model", "rmse" if spec.task == "regression" else "accuracy"]
    ]


def score(rows, best, spec, scoring=None):
    scoring = scoring or ScoringSpec(source="rows")
    key_types = {"id": "bigint", "g": "string"}
    names = [name for name, _ in prediction_columns(spec, scoring, key_types=key_types)]
    return score_unit(rows, best, spec, scoring, columns=names)


def test_held_out_rows_reproduce_the_recorded_test_metric():
    """Scoring a run's held-out rows with its stored model gives back the run's recorded rmse."""
    spec = make_spec()
    features = group_frame()
    best = winner(features, spec)
    held_out = holdout_rows(features.sample(frac=1, random_state=1), spec)
    scored = score(held_out.drop(columns="y"), best, spec)
    rmse = float(
        np.sqrt(np.mean((scored["prediction"].to_numpy() - held_out["y"].to_numpy()) ** 2))
    )
    assert rmse == pytest.approx(best["rmse"].iloc[0], rel=1e-12)


def test_group_without_winner_keeps_its_rows_with_a_reason():
    spec = make_spec()
    rows = group_frame().drop(columns="y").head(3)
    scored = score(rows, pd.DataFrame(columns=["run_key", "estimator_name", "model"]), spec)
    assert scored["id"].tolist() == [0, 1, 2]
    assert scored["status"].tolist() == ["failed"] * 3
    assert scored["prediction"].isna().all()
    assert set(scored["reason"]) == {
        "no trained model for this group: it has no ok run in sweep_runs"
    }


def test_missing_feature_column_is_a_reason_not_a_crash():
    spec = make_spec()
    features = group_frame()
    scored = score(features.drop(columns=["y", "x1"]).head(4), winner(features, spec), spec)
    assert set(scored["reason"]) == {"feature columns ['x1'] are missing from the scoring rows"}
    assert scored["status"].eq("failed").all()


def test_extra_columns_are_ignored_and_nulls_are_imputed():
    spec = make_spec()
    features = group_frame()
    rows = features.drop(columns="y").head(4).assign(extra="ignored")
    rows.loc[1, "x0"] = np.nan
    scored = score(rows, winner(features, spec), spec)
    assert scored["status"].tolist() == ["ok"] * 4 and scored["prediction"].notna().all()


def test_nulls_without_an_imputer_fail_only_their_rows():
    spec = make_spec(preprocessing={})
    features = group_frame()
    rows = features.drop(columns="y").head(4)
    rows.loc[2, "x2"] = np.nan
    scored = score(rows, winner(features, spec), spec)
    assert scored["status"].tolist() == ["ok", "ok", "failed", "ok"]
    assert scored.loc[2, "reason"] == "feature 'x2' is null and the model has no imputer"


def test_a_model_that_fails_to_load_names_its_run():
    spec = make_spec()
    best = pd.DataFrame({"run_key": ["k9"], "estimator_name": ["ridge"], "model": [b"not skops"]})
    scored = score(group_frame().drop(columns="y").head(2), best, spec)
    assert scored["reason"].str.startswith("model of run k9 failed to load: ").all()


def test_classifier_probabilities_and_labels_as_text():
    spec = make_spec("classification")
    features = group_frame("classification")
    scored = score(
        features.drop(columns="y").head(5),
        winner(features, spec),
        spec,
        ScoringSpec(source="rows", probabilities=True),
    )
    assert set(scored["prediction"]) <= {"0", "1"}
    assert all(
        set(p) == {"0", "1"} and abs(sum(p.values()) - 1) < 1e-9 for p in scored["probabilities"]
    )


def test_classifier_without_predict_proba_says_so():
    spec = make_spec("classification")
    X, y = make_classification(
        n_samples=40, n_features=3, n_informative=2, n_redundant=0, random_state=0
    )
    fitted = make_pipeline(StandardScaler(), LinearSVC()).fit(pd.DataFrame(X, columns=FEATURES), y)
    best = pd.DataFrame(
        {"run_key": ["k1"], "estimator_name": ["svc"], "model": [dump_model(fitted)]}
    )
    rows = pd.DataFrame({"id": [1, 2], "g": "a", **{f: X[:2, i] for i, f in enumerate(FEATURES)}})
    scored = score(rows, best, spec, ScoringSpec(source="rows", probabilities=True))
    assert scored["status"].tolist() == ["ok", "ok"]
    assert scored["probabilities"].isna().all()
    assert set(scored["reason"]) == {"LinearSVC has no predict_proba: probabilities are null"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "The 'scoring' config of model 'p' is missing"),
        (
            {"source": "s", "colour": 1},
            "The 'scoring.colour' key of the scoring config in model 'p' extra inputs are not permitted",
        ),
        (
            {"source": "s", "probabilities": "yes"},
            "The 'scoring.probabilities' key of the scoring config in model 'p' input should be a valid boolean. Got 'yes' instead.",
        ),
    ],
    ids=["missing", "unknown-key", "wrong-type"],
)
def test_scoring_config_errors_name_the_model_and_key(raw, message):
    with pytest.raises(ScoringConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_scoring(raw, model="p")
