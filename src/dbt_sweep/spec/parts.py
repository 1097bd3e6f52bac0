"""The parts of a sweep spec as typed pydantic models: preprocessing, split, estimators, tracking.

Every constraint on a part's values is declared on its fields (``Literal``, ``Field`` ranges and a
``description`` that words the expectation), as sklearn declares ``_parameter_constraints``; what a
field does is its reference text (:func:`~dbt_sweep.spec.base.doc`), rendered into
docs/reference/spec.md. The estimator parts are declared in :mod:`dbt_sweep.spec.estimator_parts` and
importable from here. :class:`~dbt_sweep.spec.SweepSpec` assembles the parts; the checks that span
fields live in :mod:`dbt_sweep.spec.checks`.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from dbt_sweep.spec.base import Column, MetricName, SpecModel, doc
from dbt_sweep.spec.estimator_parts import EstimatorSpec, HalvingSpec, PruningSpec, SpaceDim

__all__ = [
    "Column",
    "EstimatorSpec",
    "Features",
    "FeaturesExclude",
    "HalvingSpec",
    "KFoldSplit",
    "MetricName",
    "PreprocessingSpec",
    "PruningSpec",
    "RandomSplit",
    "SpaceDim",
    "SpecModel",
    "Split",
    "TimeSplit",
    "TrackingSpec",
]


class ImputeSpec(SpecModel):
    """``sweep.preprocessing.impute``: fill missing values (sklearn ``SimpleImputer``)."""

    strategy: Literal["mean", "median", "most_frequent", "constant"] = Field(
        "median",
        json_schema_extra=doc(
            "How a numeric feature's missing values are filled: with the column's mean, median or "
            "most frequent value on the training rows, or with `fill_value` (`constant`). One-hot "
            "columns are always filled with their most frequent value, whatever the strategy."
        ),
    )
    fill_value: float | str | None = Field(
        None,
        json_schema_extra=doc(
            "The value that replaces missing values with `strategy: constant` (SimpleImputer's "
            "`fill_value`). Passed only when set; `null` keeps sklearn's default (0 for numbers)."
        ),
    )


class OneHotSpec(SpecModel):
    """``sweep.preprocessing.one_hot``: which columns to one-hot encode."""

    columns: Literal["auto"] | Annotated[list[Column], Field(min_length=1)] = Field(
        "auto",
        description="'auto' or a non-empty list of column names",
        json_schema_extra=doc(
            "The features to one-hot encode (`OneHotEncoder(handle_unknown='ignore')`): `auto` "
            "encodes every non-numeric feature, a list exactly those columns. Encoded columns are "
            "never scaled; a category unseen in training encodes as all zeros."
        ),
    )


class SelectKBestSpec(SpecModel):
    """``sweep.preprocessing.select_k_best``: keep the ``k`` best-scoring features."""

    k: int = Field(
        ge=1,
        description="an int >= 1",
        json_schema_extra=doc(
            "How many features to keep after encoding, ranked by `f_regression` or `f_classif` on "
            "the training rows; capped at the number of encoded columns of the group."
        ),
    )


class PreprocessingSpec(SpecModel):
    """``sweep.preprocessing``: the steps that prepare the features for the estimator."""

    impute: ImputeSpec | None = Field(
        None,
        json_schema_extra=doc(
            "Fill missing feature values (a `SimpleImputer` step); `null` (default): no imputation, "
            "so missing values reach the estimator, and many sklearn estimators then fail the run."
        ),
    )
    one_hot: OneHotSpec | None = Field(
        None,
        json_schema_extra=doc(
            "One-hot encode categorical features; `null` (default): no encoding, and a non-numeric "
            "feature is then a spec error."
        ),
    )
    scale: Literal["none", "standard", "minmax"] = Field(
        "none",
        json_schema_extra=doc(
            "Scale the numeric features after imputation: `standard` (`StandardScaler`), `minmax` "
            "(`MinMaxScaler`) or `none`. One-hot encoded columns are never scaled."
        ),
    )
    select_k_best: SelectKBestSpec | None = Field(
        None,
        json_schema_extra=doc(
            "Keep only the `k` best-scoring features (a `SelectKBest` step before the estimator); "
            "`null` (default): keep every feature."
        ),
    )


_TEST_SIZE = Field(
    0.2,
    gt=0.0,
    lt=1.0,
    description="a float in the range (0.0, 1.0)",
    json_schema_extra=doc(
        "The fraction of a group's rows held out for testing: `ceil(test_size * n)` rows. A group "
        "left with no training row is skipped. Search runs carve their validation rows out of the "
        "training rows with the same fraction."
    ),
)


class RandomSplit(SpecModel):
    """``sweep.split`` with ``kind: random``: a shuffled train/test split."""

    kind: Literal["random"] = Field(
        "random", json_schema_extra=doc("Selects this split: a shuffled train/test split.")
    )
    test_size: float = _TEST_SIZE
    seed: int = Field(
        0,
        json_schema_extra=doc(
            "The `random_state` of `train_test_split`: the same seed and rows give the same split. "
            "After the split both sides are re-sorted by key, so rows reach the estimator in key order."
        ),
    )
    stratify: bool = Field(
        True,
        json_schema_extra=doc(
            "Classification only (ignored for regression): stratify the split on the target when "
            "every class has at least 2 rows and each side has at least as many rows as there are "
            "classes; otherwise the split is not stratified."
        ),
    )


class TimeSplit(SpecModel):
    """``sweep.split`` with ``kind: time``: the latest rows by ``column`` are the test rows."""

    kind: Literal["time"] = Field(
        json_schema_extra=doc("Selects this split: the latest rows by `column` are the test rows.")
    )
    column: Column = Field(
        json_schema_extra=doc(
            "The column that orders rows in time (stable sort): the last `ceil(test_size * n)` rows "
            "are the test rows. Never a feature; a null value fails the group. Both sides are then "
            "re-sorted by key, so training rows reach the estimator in key order, not time order."
        )
    )
    test_size: float = _TEST_SIZE


class KFoldSplit(SpecModel):
    """``sweep.split`` with ``kind: kfold``: ``folds``-fold cross-validation."""

    kind: Literal["kfold"] = Field(
        json_schema_extra=doc(
            "Selects this split: each metric is the mean over the folds, and the stored model is "
            "refit on all the group's rows. Searches and halving refuse it."
        )
    )
    folds: int = Field(
        5,
        ge=2,
        description="an int >= 2",
        json_schema_extra=doc(
            "The number of folds (`StratifiedKFold` for classification when every class has at "
            "least `folds` rows, else `KFold`); a group with fewer rows than folds is skipped."
        ),
    )
    seed: int = Field(
        0,
        json_schema_extra=doc(
            "The `random_state` of the fold assignment; used only with `shuffle: true`."
        ),
    )
    shuffle: bool = Field(
        True,
        json_schema_extra=doc(
            "Shuffle the rows (seeded by `seed`) before assigning folds; `false`: folds are taken "
            "in the rows' key order, unshuffled."
        ),
    )


Split = Annotated[RandomSplit | TimeSplit | KFoldSplit, Field(discriminator="kind")]


class FeaturesExclude(SpecModel):
    """``sweep.features: {exclude: [...]}``: every column but these (and the group, target, ...)."""

    exclude: list[Column] = Field(
        [],
        json_schema_extra=doc(
            "Columns that are not features, on top of the group, target, key and time columns "
            "(which never are); every other column of the source is a feature, in table order."
        ),
    )


def _features_tag(value: Any) -> str:
    """Label ``sweep.features`` for pydantic: a list of names, or an ``exclude`` mapping."""
    return "names" if isinstance(value, list) else "exclude"


Features = Annotated[
    Annotated[list[Column], Tag("names")] | Annotated[FeaturesExclude, Tag("exclude")],
    Discriminator(_features_tag),
]


# pydantic warns that `register` shadows ABCMeta.register of BaseModel's metaclass; the spec never
# registers virtual subclasses, and `register` is the key users write.
warnings.filterwarnings(
    "ignore", message='Field name "register" in "TrackingSpec"', category=UserWarning
)


class TrackingSpec(SpecModel):
    """Where and how much of a sweep is logged to MLflow (see :mod:`dbt_sweep.tracking.parent`).

    Never part of ``run_key``: changing where runs are logged does not change what they train.
    """

    enabled: bool = Field(
        True,
        json_schema_extra=doc(
            "`false`: no MLflow at all (no experiment, runs or models; `mlflow_run_id` is null)."
        ),
    )
    experiment: Column | None = Field(
        None,
        description="a non-empty str (default: the model's name)",
        json_schema_extra=doc(
            "The MLflow experiment the sweep logs into; `null` (default): the dbt model's name. "
            "Also the prefix of registered model names."
        ),
    )
    uri: Column | None = Field(
        None,
        description="a non-empty tracking URI (default: $MLFLOW_TRACKING_URI, else the embedded store)",
        json_schema_extra=doc(
            "The MLflow tracking URI; `null` (default): `$MLFLOW_TRACKING_URI`, else the embedded "
            "store in the project folder (`sqlite:///mlflow.db`, artifacts in `mlruns/`)."
        ),
    )
    level: Literal["runs", "groups", "sweep"] = Field(
        "runs",
        json_schema_extra=doc(
            "Under the build's parent run, log one child run per training run (`runs`), one per "
            "group with its winner (`groups`), or only the parent run (`sweep`)."
        ),
    )
    log_models: Literal["best", "all", "none"] = Field(
        "best",
        json_schema_extra=doc(
            "Which fitted models are logged as MLflow sklearn models: each group's winner (`best`), "
            "every `ok` run's (`all`, which needs `store_models: all`) or none."
        ),
    )
    register: bool = Field(
        False,
        json_schema_extra=doc(
            "`true`: register each group's winner as a new version of the registered model "
            "`<experiment>-<group values>`."
        ),
    )
    on_error: Literal["fail", "warn"] = Field(
        "fail",
        json_schema_extra=doc(
            "When the tracking server is unreachable or fails: `fail` the model, or `warn` and "
            "train and materialise without tracking (`mlflow_run_id` null)."
        ),
    )
    rerun: bool = Field(
        False,
        json_schema_extra=doc(
            "`false`: a run whose `run_key`, data and outcome match a finished child run of an "
            "earlier build reuses it, logging nothing again; `true`: every build logs anew."
        ),
    )
