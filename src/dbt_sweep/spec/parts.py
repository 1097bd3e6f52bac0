"""The parts of a sweep spec as typed pydantic models: preprocessing, split, estimators, tracking.

Every constraint on a part's values is declared here, on its fields (``Literal``, ``Field`` ranges
and a ``description`` that words the expectation), as sklearn declares ``_parameter_constraints``.
:class:`~dbt_sweep.spec.SweepSpec` assembles the parts; the checks that span fields live in
:mod:`dbt_sweep.spec.checks`.
"""

from __future__ import annotations

import builtins
import warnings
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

__all__ = [
    "EstimatorSpec",
    "KFoldSplit",
    "PreprocessingSpec",
    "RandomSplit",
    "SpaceDim",
    "TimeSplit",
    "TrackingSpec",
]

Column = Annotated[str, Field(min_length=1)]
MetricName = Literal["mae", "rmse", "r2", "mape", "accuracy", "f1", "roc_auc", "log_loss"]


class SpecModel(BaseModel):
    """A part of the spec: unknown keys are refused and values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ImputeSpec(SpecModel):
    """``sweep.preprocessing.impute``: fill missing values (sklearn ``SimpleImputer``)."""

    strategy: Literal["mean", "median", "most_frequent", "constant"] = "median"
    fill_value: float | str | None = None


class OneHotSpec(SpecModel):
    """``sweep.preprocessing.one_hot``: which columns to one-hot encode."""

    columns: Literal["auto"] | Annotated[list[Column], Field(min_length=1)] = Field(
        "auto", description="'auto' or a non-empty list of column names"
    )


class SelectKBestSpec(SpecModel):
    """``sweep.preprocessing.select_k_best``: keep the ``k`` best-scoring features."""

    k: int = Field(ge=1, description="an int >= 1")


class PreprocessingSpec(SpecModel):
    """``sweep.preprocessing``: the steps that prepare the features for the estimator."""

    impute: ImputeSpec | None = None
    one_hot: OneHotSpec | None = None
    scale: Literal["none", "standard", "minmax"] = "none"
    select_k_best: SelectKBestSpec | None = None


_TEST_SIZE = Field(0.2, gt=0.0, lt=1.0, description="a float in the range (0.0, 1.0)")


class RandomSplit(SpecModel):
    """``sweep.split`` with ``kind: random``: a shuffled train/test split."""

    kind: Literal["random"] = "random"
    test_size: float = _TEST_SIZE
    seed: int = 0
    stratify: bool = True  # classification only: ignored for regression


class TimeSplit(SpecModel):
    """``sweep.split`` with ``kind: time``: the latest rows by ``column`` are the test rows."""

    kind: Literal["time"]
    column: Column
    test_size: float = _TEST_SIZE


class KFoldSplit(SpecModel):
    """``sweep.split`` with ``kind: kfold``: ``folds``-fold cross-validation."""

    kind: Literal["kfold"]
    folds: int = Field(5, ge=2, description="an int >= 2")
    seed: int = 0
    shuffle: bool = True


Split = Annotated[RandomSplit | TimeSplit | KFoldSplit, Field(discriminator="kind")]


class FeaturesExclude(SpecModel):
    """``sweep.features: {exclude: [...]}``: every column but these (and the group, target, ...)."""

    exclude: list[Column] = []


def _features_tag(value: Any) -> str:
    """Label ``sweep.features`` for pydantic: a list of names, or an ``exclude`` mapping."""
    return "names" if isinstance(value, list) else "exclude"


Features = Annotated[
    Annotated[list[Column], Tag("names")] | Annotated[FeaturesExclude, Tag("exclude")],
    Discriminator(_features_tag),
]


class SpaceDim(SpecModel):
    """One parameter's search range: exactly one of ``choice``, ``int`` or ``float``.

    ``log`` samples ``int``/``float`` ranges on a log scale (``low`` must then be > 0).
    """

    choice: Annotated[list[Any], Field(min_length=1)] | None = Field(
        None, description="a non-empty list of values"
    )
    int: Annotated[list[builtins.int], Field(min_length=2, max_length=2)] | None = Field(
        None, description="a list [low, high] of two ints"
    )
    float: Annotated[list[builtins.float], Field(min_length=2, max_length=2)] | None = Field(
        None, description="a list [low, high] of two numbers"
    )
    log: bool = False

    def kind(self) -> str | None:
        """Return which of ``choice``, ``int``, ``float`` is set (None unless exactly one is)."""
        kinds = [k for k in ("choice", "int", "float") if getattr(self, k) is not None]
        return kinds[0] if len(kinds) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """Return the dimension as it is written into the manifest's ``params``."""
        kind = str(self.kind())
        out: dict[str, Any] = {kind: list(getattr(self, kind))}
        if kind != "choice":
            out["log"] = self.log
        return out


class HalvingSpec(SpecModel):
    """Successive halving for ``search: random`` or ``grid``: every configuration starts on ``min_rows``
    training rows; each round keeps the best ``1/factor`` and gives them ``factor`` times the rows."""

    factor: builtins.int = Field(3, ge=2, description="an int >= 2")
    min_rows: builtins.int = Field(30, ge=2, description="an int >= 2")


class PruningSpec(SpecModel):
    """Optuna pruning for ``search: optuna`` on an estimator with ``partial_fit``.

    Each trial trains ``epochs`` passes of ``partial_fit``, reports the primary metric on the
    validation split after each, and stops when the pruner says so. ``warmup``: epochs every trial
    trains before it can be pruned (the median pruner's ``n_warmup_steps``; the halving pruners'
    ``min_resource``, at least 1).
    """

    pruner: Literal["median", "hyperband", "successive_halving"] = "median"
    epochs: builtins.int = Field(20, ge=1, description="an int >= 1")
    warmup: builtins.int = Field(0, ge=0, description="an int >= 0")


class EstimatorSpec(SpecModel):
    """One ``sweep.estimators[i]`` entry: an estimator class and how its parameters are searched."""

    name: Column | None = None
    estimator: str = Field(
        pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$", description="an import path 'module.Class'"
    )
    params: dict[str, Any] = {}
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    search: Literal["grid", "random", "optuna"] = "grid"
    space: dict[str, SpaceDim] = {}
    trials: Annotated[builtins.int, Field(ge=1)] | None = Field(None, description="an int >= 1")
    seed: builtins.int = 0
    halving: HalvingSpec | None = None
    pruning: PruningSpec | None = None

    @model_validator(mode="after")
    def _default_name(self) -> EstimatorSpec:
        """Name the entry after its class, lower-cased, unless it has a name."""
        if self.name is None:
            self.name = self.estimator.rpartition(".")[2].lower()
        return self

    @property
    def searched(self) -> bool:
        """Whether the estimator is one search run per group (random, optuna, or a grid with halving)."""
        return self.search != "grid" or self.halving is not None


# pydantic warns that `register` shadows ABCMeta.register of BaseModel's metaclass; the spec never
# registers virtual subclasses, and `register` is the key users write.
warnings.filterwarnings(
    "ignore", message='Field name "register" in "TrackingSpec"', category=UserWarning
)


class TrackingSpec(SpecModel):
    """Where and how much of a sweep is logged to MLflow (see :mod:`dbt_sweep.tracking.parent`).

    Never part of ``run_key``: changing where runs are logged does not change what they train.
    """

    enabled: bool = True
    experiment: Column | None = Field(
        None, description="a non-empty str (default: the model's name)"
    )
    uri: Column | None = Field(
        None,
        description="a non-empty tracking URI (default: $MLFLOW_TRACKING_URI, else the embedded store)",
    )
    level: Literal["runs", "groups", "sweep"] = "runs"
    log_models: Literal["best", "all", "none"] = "best"
    register: bool = False
    on_error: Literal["fail", "warn"] = "fail"
    rerun: bool = False
