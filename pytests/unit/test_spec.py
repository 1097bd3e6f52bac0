"""Tests for dbt_sweep.spec: parsing, error messages, constraint coverage, column checks."""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from dbt_sweep import spec as spec_module
from dbt_sweep.exceptions import SweepSpecError
from dbt_sweep.spec import SweepSpec, check_columns, parse_spec, spec_hash

from conftest import FULL_SPEC, make_spec

PREFIX = "The '{}' key of the sweep spec in model 'sweep_runs' "
SVR_PARAMS = "['C', 'cache_size', 'coef0', 'degree', 'epsilon', 'gamma', 'kernel', 'max_iter', 'shrinking', 'tol', 'verbose']"
TOP_KEYS = (
    "['allowed_modules', 'estimators', 'features', 'group_by', 'key', 'max_group_rows', 'metrics', 'min_rows', 'preprocessing', "
    "'primary_metric', 'refit', 'retrain', 'shards', 'source', 'split', 'store_models', 'target', 'task', 'time_column', 'tracking']"
)


def test_full_spec_parses(raw_spec: dict[str, Any]) -> None:
    """Every key of a valid spec ends up typed, with defaults and derived values."""
    spec = parse_spec(raw_spec, model="sweep_runs")
    assert spec.group_by == ["group_id"]
    assert [e.name for e in spec.estimators] == ["ridge", "svr"]
    assert spec.primary_metric == "rmse"
    assert spec.primary_direction == "minimize"
    assert spec.split.kind == "random" and spec.split.stratify is True


def test_defaults() -> None:
    """A minimal spec gets default names, metrics, split and shards; a str group_by becomes a list."""
    raw = {"source": "f", "group_by": "g", "target": "y", "task": "classification",
           "estimators": [{"estimator": "sklearn.svm.SVC"}], "primary_metric": "log_loss"}  # fmt: skip
    spec = parse_spec(raw, model="m")
    assert spec.group_by == ["g"]
    assert spec.estimators[0].name == "svc"
    assert spec.metrics == ["accuracy", "f1", "roc_auc", "log_loss"]
    assert spec.primary_direction == "minimize"
    assert (spec.split.kind, spec.split.test_size, spec.split.seed, spec.shards) == (
        "random",
        0.2,
        0,
        "auto",
    )


def test_primary_metric_outside_the_default_metrics_is_added() -> None:
    """Without a metrics list, the primary metric joins the task's defaults."""
    raw = {"source": "f", "group_by": "g", "target": "y", "task": "regression",
           "estimators": [{"estimator": "sklearn.linear_model.Ridge"}], "primary_metric": "mape"}  # fmt: skip
    spec = parse_spec(raw, model="m")
    assert spec.metrics == ["mae", "rmse", "r2", "mape"] and spec.primary_metric == "mape"


def _estimators(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"estimators": list(entries)}


BAD_SPECS = [
    (
        _estimators({"estimator": "xgboost.XGBRegressor"}),
        PREFIX.format("sweep.estimators[0].estimator")
        + "is 'xgboost.XGBRegressor', which is not in the estimator "
        "allowlist ['sklearn.']; add its module prefix to sweep.allowed_modules.",
    ),
    (
        _estimators({"estimator": "sklearn.svm.SVRR"}),
        PREFIX.format("sweep.estimators[0].estimator")
        + "must be an importable 'module.Class' path. "
        "Got 'sklearn.svm.SVRR' instead: sklearn.svm has no 'SVRR'. Did you mean one of ['SVR', 'NuSVR']?",
    ),
    (
        _estimators({"estimator": "sklearn.svm.SVR", "params": {"foo": 1}}),
        PREFIX.format("sweep.estimators[0].params.foo")
        + f"is not a parameter of SVR. Valid parameters are: {SVR_PARAMS}.",
    ),
    (
        _estimators({"estimator": "sklearn.svm.SVR", "grid": {"C": [1.0, "abc"]}}),
        PREFIX.format("sweep.estimators[0].grid.C")
        + "must be a float in the range (0.0, inf]. Got 'abc' instead.",
    ),
    (
        _estimators({"estimator": "sklearn.svm.SVR", "grid": {"C": [-1]}}),
        PREFIX.format("sweep.estimators[0].grid.C")
        + "must be a float in the range (0.0, inf]. Got -1 instead.",
    ),
    (
        _estimators(
            {"estimator": "sklearn.linear_model.Ridge"},
            {"estimator": "sklearn.svm.SVR", "grid": {"C": "abc"}},
        ),
        PREFIX.format("sweep.estimators[1].grid.C")
        + "must be a list with at least one value. Got 'abc' instead.",
    ),
    (
        _estimators({"estimator": "sklearn.svm.SVC"}),
        PREFIX.format("sweep.estimators[0].estimator")
        + "must name a regressor for task 'regression'. "
        "Got 'sklearn.svm.SVC' instead.",
    ),
    (
        {"metrics": ["mae", "accuracy"]},
        PREFIX.format("sweep.metrics[1]")
        + "must be a metric for task 'regression'. Got 'accuracy' instead. "
        "Valid metrics for task 'regression' are: ['mae', 'rmse', 'r2', 'mape'].",
    ),
    (
        {"group_by": ["group_id", "group_id"]},
        PREFIX.format("sweep.group_by[1]")
        + "repeats column 'group_id', already at sweep.group_by[0].",
    ),
    (
        {"features": ["x0", "group_id"]},
        PREFIX.format("sweep.features[1]")
        + "names column 'group_id', which is already sweep.group_by[0]; "
        "a column cannot also be a feature.",
    ),
    (
        {"target": "group_id"},
        PREFIX.format("sweep.target")
        + "names column 'group_id', which is already sweep.group_by[0].",
    ),
    ({"foo": 1}, PREFIX.format("sweep.foo") + f"is not a valid key. Valid keys are: {TOP_KEYS}."),
    (
        {"split": {"kind": "kfold", "folds": 1}},
        PREFIX.format("sweep.split.folds") + "must be an int >= 2. Got 1 instead.",
    ),
    (
        {"split": {"kind": "bootstrap"}},
        PREFIX.format("sweep.split.kind")
        + "must be one of ['random', 'time', 'kfold']. Got 'bootstrap' instead.",
    ),
    (
        {"shards": 0},
        PREFIX.format("sweep.shards") + "must be 'auto' or an int >= 1. Got 0 instead.",
    ),
    (
        {"target": None},
        PREFIX.format("sweep.target") + "is required but missing; add it to the sweep config.",
    ),
    (
        {"metrics": ["mae", "r2"], "primary_metric": "rmse"},
        PREFIX.format("sweep.primary_metric")
        + "must be one of the listed metrics ['mae', 'r2']. Got 'rmse' instead. Add it to "
        "'metrics', or leave 'metrics' out to get the task's defaults plus the primary metric.",
    ),
]
BAD_IDS = [
    "disallowed-estimator", "unknown-estimator", "unknown-param", "grid-wrong-type", "grid-out-of-range",
    "grid-not-a-list", "classifier-for-regression", "metric-task", "group-by-duplicate", "group-as-feature",
    "group-as-target", "unknown-top-level-key", "kfold-folds", "split-kind", "shards", "missing-target",
    "primary-metric-not-listed",
]  # fmt: skip


@pytest.mark.parametrize(("changes", "message"), BAD_SPECS, ids=BAD_IDS)
def test_bad_spec_message(changes: dict[str, Any], message: str) -> None:
    """Each bad input names its key, the model, what was expected and what was received."""
    with pytest.raises(SweepSpecError, match=f"^{re.escape(message)}$"):
        make_spec(**changes)


def test_missing_spec() -> None:
    """A model without a sweep config gets an error saying so."""
    message = (
        "The 'sweep' key of the sweep spec in model 'sweep_runs' is missing: the model has no `sweep` config. "
        "Got None instead; declare it under the model's config in YAML (sweep: {...})."
    )
    with pytest.raises(SweepSpecError, match=f"^{re.escape(message)}$"):
        parse_spec(None, model="sweep_runs")


def test_several_errors_one_per_line(raw_spec: dict[str, Any]) -> None:
    """All field errors are reported, one complete message per line."""
    raw_spec.update(min_rows=1, task="clustering")
    with pytest.raises(SweepSpecError) as info:
        parse_spec(raw_spec, model="sweep_runs")
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith("The 'sweep.") and line.endswith("instead.") for line in lines)


def _spec_models() -> list[type[BaseModel]]:
    """Every pydantic model reachable from SweepSpec."""
    seen: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.append(annotation)
                for f in annotation.model_fields.values():
                    visit(f.annotation)
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(SweepSpec)
    return seen


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Return a mutator setting a dotted path (ints index lists) in a raw spec."""

    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = raw
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


# One bad value per declared field, like sklearn's check_param_validation.
BAD_FIELD_VALUES: dict[str, tuple[str, Any, str]] = {
    "SweepSpec.source": ("source", "", "sweep.source"),
    "SweepSpec.group_by": ("group_by", [], "sweep.group_by"),
    "SweepSpec.target": ("target", 3, "sweep.target"),
    "SweepSpec.key": ("key", 3, "sweep.key"),
    "SweepSpec.time_column": ("time_column", [], "sweep.time_column"),
    "SweepSpec.features": ("features", "x0", "sweep.features"),
    "SweepSpec.task": ("task", "ranking", "sweep.task"),
    "SweepSpec.estimators": ("estimators", [], "sweep.estimators"),
    "SweepSpec.preprocessing": ("preprocessing", "standard", "sweep.preprocessing"),
    "SweepSpec.split": ("split", {"kind": "random", "test_size": 0}, "sweep.split.test_size"),
    "SweepSpec.metrics": ("metrics", ["nope"], "sweep.metrics[0]"),
    "SweepSpec.primary_metric": ("primary_metric", "nope", "sweep.primary_metric"),
    "SweepSpec.min_rows": ("min_rows", 1, "sweep.min_rows"),
    "SweepSpec.max_group_rows": ("max_group_rows", 0, "sweep.max_group_rows"),
    "SweepSpec.allowed_modules": ("allowed_modules", [], "sweep.allowed_modules"),
    "SweepSpec.shards": ("shards", "many", "sweep.shards"),
    "SweepSpec.retrain": ("retrain", "changes", "sweep.retrain"),
    "SweepSpec.refit": ("refit", "yes", "sweep.refit"),
    "SweepSpec.store_models": ("store_models", "some", "sweep.store_models"),
    "SweepSpec.tracking": ("tracking", "mlflow", "sweep.tracking"),
    "FeaturesExclude.exclude": ("features", {"exclude": "x0"}, "sweep.features.exclude"),
    "EstimatorSpec.name": ("estimators.0.name", 1, "sweep.estimators[0].name"),
    "EstimatorSpec.estimator": ("estimators.0.estimator", "Ridge", "sweep.estimators[0].estimator"),
    "EstimatorSpec.params": ("estimators.0.params", [], "sweep.estimators[0].params"),
    "EstimatorSpec.grid": ("estimators.0.grid", {"alpha": []}, "sweep.estimators[0].grid.alpha"),
    "EstimatorSpec.search": ("estimators.0.search", "bayes", "sweep.estimators[0].search"),
    "EstimatorSpec.space": ("estimators.0.space", {"C": [1, 10]}, "sweep.estimators[0].space.C"),
    "EstimatorSpec.trials": ("estimators.0.trials", 0, "sweep.estimators[0].trials"),
    "EstimatorSpec.seed": ("estimators.0.seed", "0", "sweep.estimators[0].seed"),
    "EstimatorSpec.halving": ("estimators.0.halving", 3, "sweep.estimators[0].halving"),
    "EstimatorSpec.pruning": ("estimators.0.pruning", "median", "sweep.estimators[0].pruning"),
    "PruningSpec.pruner": (
        "estimators.0.pruning",
        {"pruner": "asha"},
        "sweep.estimators[0].pruning.pruner",
    ),
    "PruningSpec.epochs": (
        "estimators.0.pruning",
        {"epochs": 0},
        "sweep.estimators[0].pruning.epochs",
    ),
    "PruningSpec.warmup": (
        "estimators.0.pruning",
        {"warmup": -1},
        "sweep.estimators[0].pruning.warmup",
    ),
    "HalvingSpec.factor": (
        "estimators.0.halving",
        {"factor": 1},
        "sweep.estimators[0].halving.factor",
    ),
    "HalvingSpec.min_rows": (
        "estimators.0.halving",
        {"min_rows": 1},
        "sweep.estimators[0].halving.min_rows",
    ),
    "SpaceDim.choice": (
        "estimators.0.space",
        {"C": {"choice": []}},
        "sweep.estimators[0].space.C.choice",
    ),
    "SpaceDim.int": (
        "estimators.0.space",
        {"C": {"int": [1, 2, 3]}},
        "sweep.estimators[0].space.C.int",
    ),
    "SpaceDim.float": (
        "estimators.0.space",
        {"C": {"float": "ab"}},
        "sweep.estimators[0].space.C.float",
    ),
    "SpaceDim.log": (
        "estimators.0.space",
        {"C": {"float": [1, 2], "log": 1}},
        "sweep.estimators[0].space.C.log",
    ),
    "PreprocessingSpec.impute": ("preprocessing.impute", "median", "sweep.preprocessing.impute"),
    "PreprocessingSpec.one_hot": ("preprocessing.one_hot", True, "sweep.preprocessing.one_hot"),
    "PreprocessingSpec.scale": ("preprocessing.scale", "robust", "sweep.preprocessing.scale"),
    "PreprocessingSpec.select_k_best": (
        "preprocessing.select_k_best",
        5,
        "sweep.preprocessing.select_k_best",
    ),
    "ImputeSpec.strategy": (
        "preprocessing.impute.strategy",
        "avg",
        "sweep.preprocessing.impute.strategy",
    ),
    "ImputeSpec.fill_value": (
        "preprocessing.impute.fill_value",
        [0],
        "sweep.preprocessing.impute.fill_value",
    ),
    "OneHotSpec.columns": (
        "preprocessing.one_hot.columns",
        [],
        "sweep.preprocessing.one_hot.columns",
    ),
    "SelectKBestSpec.k": (
        "preprocessing.select_k_best.k",
        0,
        "sweep.preprocessing.select_k_best.k",
    ),
    "RandomSplit.kind": ("split", {"kind": "randomly"}, "sweep.split.kind"),
    "RandomSplit.test_size": ("split.test_size", 1.0, "sweep.split.test_size"),
    "RandomSplit.seed": ("split.seed", "0", "sweep.split.seed"),
    "RandomSplit.stratify": ("split.stratify", "yes", "sweep.split.stratify"),
    "TimeSplit.kind": ("split", {"kind": "times", "column": "t"}, "sweep.split.kind"),
    "TimeSplit.column": ("split", {"kind": "time", "column": ""}, "sweep.split.column"),
    "TimeSplit.test_size": (
        "split",
        {"kind": "time", "column": "t", "test_size": -0.5},
        "sweep.split.test_size",
    ),
    "KFoldSplit.kind": ("split", {"kind": "k-fold"}, "sweep.split.kind"),
    "KFoldSplit.folds": ("split", {"kind": "kfold", "folds": 1}, "sweep.split.folds"),
    "KFoldSplit.seed": ("split", {"kind": "kfold", "seed": 0.5}, "sweep.split.seed"),
    "KFoldSplit.shuffle": ("split", {"kind": "kfold", "shuffle": "no"}, "sweep.split.shuffle"),
    "TrackingSpec.enabled": ("tracking.enabled", "yes", "sweep.tracking.enabled"),
    "TrackingSpec.experiment": ("tracking.experiment", "", "sweep.tracking.experiment"),
    "TrackingSpec.uri": ("tracking.uri", 5000, "sweep.tracking.uri"),
    "TrackingSpec.level": ("tracking.level", "trials", "sweep.tracking.level"),
    "TrackingSpec.log_models": ("tracking.log_models", "winners", "sweep.tracking.log_models"),
    "TrackingSpec.register": ("tracking.register", "no", "sweep.tracking.register"),
    "TrackingSpec.on_error": ("tracking.on_error", "ignore", "sweep.tracking.on_error"),
    "TrackingSpec.rerun": ("tracking.rerun", 1, "sweep.tracking.rerun"),
}


def test_every_field_has_a_bad_value() -> None:
    """Mismatch between the spec models' fields and BAD_FIELD_VALUES means a field lacks a constraint test."""
    fields = {f"{m.__name__}.{name}" for m in _spec_models() for name in m.model_fields}
    assert fields == set(BAD_FIELD_VALUES)


@pytest.mark.parametrize(
    ("path", "value", "key"), BAD_FIELD_VALUES.values(), ids=list(BAD_FIELD_VALUES)
)
def test_field_rejects_bad_value(path: str, value: Any, key: str) -> None:
    """Each declared constraint rejects a bad value, and the error names the field's key."""
    raw = copy.deepcopy(FULL_SPEC)
    _set(path, value)(raw)
    with pytest.raises(SweepSpecError, match=f"^{re.escape(PREFIX.format(key))}"):
        parse_spec(raw, model="sweep_runs")


DTYPES = {
    "group_id": "string",
    "row_id": "numeric",
    "x0": "numeric",
    "x1": "numeric",
    "city": "string",
    "y": "numeric",
}


@pytest.mark.parametrize(
    ("changes", "dtypes", "message"),
    [
        (
            {"features": ["x0", "x1", "x2", "x9"]},
            DTYPES,
            PREFIX.format("sweep.features[2]")
            + "names column 'x2', which is not in table 'feat_demo_regression'. "
            f"Available columns are: {list(DTYPES)}.",
        ),
        (
            {},
            {k: v for k, v in DTYPES.items() if k != "y"},
            PREFIX.format("sweep.target")
            + "names column 'y', which is not in table 'feat_demo_regression'. "
            f"Available columns are: {[k for k in DTYPES if k != 'y']}.",
        ),
        (
            {"group_by": "region"},
            DTYPES,
            PREFIX.format("sweep.group_by[0]") + "names column 'region', which is not in table "
            f"'feat_demo_regression'. Available columns are: {list(DTYPES)}.",
        ),
        (
            {"preprocessing": {"scale": "standard"}},
            DTYPES,
            PREFIX.format("sweep.features")
            + "selects column 'city' of type 'string', which is not numeric and no "
            "one-hot step encodes it; add it to sweep.preprocessing.one_hot.columns or use columns: auto.",
        ),
        (
            {"features": {"exclude": ["x0", "x1", "city"]}},
            DTYPES,
            PREFIX.format("sweep.features")
            + "selects no feature columns from table 'feat_demo_regression'. "
            f"Available columns are: {list(DTYPES)}.",
        ),
    ],
    ids=[
        "missing-feature",
        "missing-target",
        "missing-group",
        "non-numeric-without-encoder",
        "no-features",
    ],
)
def test_check_columns(changes: dict[str, Any], dtypes: dict[str, str], message: str) -> None:
    """Columns the spec names must exist, and non-numeric features need an encoder."""
    with pytest.raises(SweepSpecError, match=f"^{re.escape(message)}"):
        check_columns(make_spec(**changes), dtypes, model="sweep_runs")


def test_check_columns_passes_and_resolves_features() -> None:
    """With one_hot auto, string features are fine; exclude-features skip group, target and key."""
    spec = make_spec()
    check_columns(spec, DTYPES, model="sweep_runs")
    assert spec.feature_columns(list(DTYPES)) == ["x0", "x1", "city"]
    assert make_spec(features=["x1"]).feature_columns(list(DTYPES)) == ["x1"]


def test_spec_hash_is_stable() -> None:
    """The hash depends on the spec's content only."""
    assert spec_hash(make_spec()) == spec_hash(make_spec())
    assert spec_hash(make_spec()) != spec_hash(make_spec(min_rows=30))
    assert re.fullmatch(r"[0-9a-f]{16}", spec_hash(make_spec()))
    assert spec_module.canonical_hash({"a": 1, "b": 2}) == spec_module.canonical_hash(
        {"b": 2, "a": 1}
    )


@pytest.mark.parametrize(
    ("store_models", "tracking", "expected"),
    [
        (None, {"enabled": False}, "best"),
        (None, {"log_models": "best"}, "best"),
        (None, {"log_models": "all"}, "all"),
        ("all", {"log_models": "none"}, "all"),
        ("best", {"enabled": False, "log_models": "all"}, "best"),  # nothing is logged
    ],
)
def test_store_models_default_follows_what_mlflow_logs(store_models, tracking, expected) -> None:
    """Only winners' bytes are stored unless every model is logged to MLflow (or asked for)."""
    assert make_spec(store_models=store_models, tracking=tracking).store_models == expected


def test_store_models_best_with_log_models_all_is_refused() -> None:
    with pytest.raises(
        SweepSpecError, match=re.escape(PREFIX.format("sweep.store_models") + "must be 'all' when")
    ):
        make_spec(store_models="best", tracking={"log_models": "all"})


_MINIMAL: dict[str, Any] = {
    "source": "feat", "group_by": "g", "target": "y", "task": "regression",
    "estimators": [{"estimator": "sklearn.linear_model.Ridge"}],
}  # fmt: skip


def test_reserved_column_lists_cover_every_column_the_sweep_writes() -> None:
    """The names check_columns refuses are the columns dbt-sweep's tables and workers really use."""
    from dbt_sweep.manifest import MANIFEST_COLUMNS
    from dbt_sweep.scoring import prediction_columns
    from dbt_sweep.scoring.predict import parse_scoring
    from dbt_sweep.spark.slots import UNIT
    from dbt_sweep.spec.columns import INTERNAL_COLUMNS, PREDICTION_COLUMNS, RUN_COLUMNS
    from dbt_sweep.training import run_columns

    spec = parse_spec({**_MINIMAL, "task": "classification", "estimators": [
        {"estimator": "sklearn.linear_model.LogisticRegression"}]}, model="m")  # fmt: skip
    added_by_runs = {"primary_metric_name", "primary_direction", "mlflow_run_id",
                     "dbt_invocation_id", "data_fingerprint", "trained_with"}  # fmt: skip
    written = {name for name, _ in run_columns(spec)} | set(MANIFEST_COLUMNS) | added_by_runs
    assert written - set(spec.metrics or []) <= RUN_COLUMNS | {"run_key"}
    scoring = parse_scoring({"source": "s", "probabilities": True}, model="m")
    predicted = {name for name, _ in prediction_columns(spec, scoring, key_types={"id": "int"})}
    assert predicted - {"id"} <= PREDICTION_COLUMNS
    assert UNIT in INTERNAL_COLUMNS


@pytest.mark.parametrize(
    ("changes", "columns", "message"),
    [
        (
            {"group_by": "status"},
            {"status": "string", "y": "numeric", "x": "numeric"},
            PREFIX.format("sweep.group_by[0]") + "names column 'status', which sweep_runs and "
            "sweep_manifest write themselves. Group columns must not be one of ",
        ),
        (
            {"key": "prediction"},
            {"g": "string", "prediction": "numeric", "y": "numeric", "x": "numeric"},
            PREFIX.format("sweep.key") + "names column 'prediction', which a predictions table "
            "writes itself.",
        ),
        (
            {},
            {"g": "string", "_sweep_unit": "numeric", "y": "numeric", "x": "numeric"},
            PREFIX.format("sweep.source") + "names table 'feat', which has the columns "
            "['_sweep_unit']; dbt-sweep adds columns of those names while it trains",
        ),
    ],
    ids=["group-named-status", "key-named-prediction", "internal-column"],
)
def test_reserved_column_names_are_refused(
    changes: dict[str, Any], columns: dict[str, str], message: str
) -> None:
    spec = parse_spec({**_MINIMAL, **changes}, model="sweep_runs")
    with pytest.raises(SweepSpecError, match=f"^{re.escape(message)}"):
        check_columns(spec, columns, model="sweep_runs")


def test_a_feature_named_shard_is_a_feature() -> None:
    """`shard` is a work-unit column of the sweep's tables, not of the data: a feature may use it."""
    spec = parse_spec(_MINIMAL, model="sweep_runs")
    check_columns(spec, {"g": "string", "y": "numeric", "shard": "numeric"}, model="sweep_runs")
    assert spec.feature_columns(["g", "y", "shard"]) == ["shard"]
