"""The sweep spec: typed, validated configuration of one sweep.

The spec is read in a dbt Python model with ``dbt.config.get("sweep")`` and checked
here. Every constraint is declared on the pydantic fields (``Literal``, ``Field``);
cross-field checks and the checks that need imports live in model validators. The
errors name the key path, the model, what was expected and what was received
(sklearn's ``_param_validation`` template), see :class:`~dbt_sweep.exceptions.SweepSpecError`.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dbt_sweep import metrics as _metrics
from dbt_sweep.exceptions import SpecProblem, SweepSpecError, problems_from_validation
from dbt_sweep.spec.estimators import estimator_problems, import_estimator
from dbt_sweep.spec.search import SEARCH_KEYS

__all__ = ["SweepSpec", "TrackingSpec", "check_columns", "parse_spec", "spec_hash"]

Column = Annotated[str, Field(min_length=1)]
MetricName = Literal["mae", "rmse", "r2", "mape", "accuracy", "f1", "roc_auc", "log_loss"]
NUMERIC_KINDS = frozenset({"numeric", "boolean"})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ImputeSpec(_Spec):
    strategy: Literal["mean", "median", "most_frequent", "constant"] = "median"
    fill_value: float | str | None = None


class OneHotSpec(_Spec):
    columns: Literal["auto"] | Annotated[list[Column], Field(min_length=1)] = Field(
        "auto", description="'auto' or a non-empty list of column names"
    )


class SelectKBestSpec(_Spec):
    k: int = Field(ge=1, description="an int >= 1")


class PreprocessingSpec(_Spec):
    impute: ImputeSpec | None = None
    one_hot: OneHotSpec | None = None
    scale: Literal["none", "standard", "minmax"] = "none"
    select_k_best: SelectKBestSpec | None = None


_TEST_SIZE = Field(0.2, gt=0.0, lt=1.0, description="a float in the range (0.0, 1.0)")


class RandomSplit(_Spec):
    kind: Literal["random"] = "random"
    test_size: float = _TEST_SIZE
    seed: int = 0
    stratify: bool = True  # classification only: ignored for regression


class TimeSplit(_Spec):
    kind: Literal["time"]
    column: Column
    test_size: float = _TEST_SIZE


class KFoldSplit(_Spec):
    kind: Literal["kfold"]
    folds: int = Field(5, ge=2, description="an int >= 2")
    seed: int = 0
    shuffle: bool = True


Split = Annotated[RandomSplit | TimeSplit | KFoldSplit, Field(discriminator="kind")]


class FeaturesExclude(_Spec):
    exclude: list[Column] = []


def _features_tag(value: Any) -> str:
    return "names" if isinstance(value, list) else "exclude"


Features = Annotated[
    Annotated[list[Column], Tag("names")] | Annotated[FeaturesExclude, Tag("exclude")],
    Discriminator(_features_tag),
]


class SpaceDim(_Spec):
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


class HalvingSpec(_Spec):
    """Successive halving for ``search: random`` or ``grid``: every configuration starts on ``min_rows``
    training rows; each round keeps the best ``1/factor`` and gives them ``factor`` times the rows."""

    factor: builtins.int = Field(3, ge=2, description="an int >= 2")
    min_rows: builtins.int = Field(30, ge=2, description="an int >= 2")


class PruningSpec(_Spec):
    """Optuna pruning for ``search: optuna`` on an estimator with ``partial_fit``.

    Each trial trains ``epochs`` passes of ``partial_fit``, reports the primary metric on the
    validation split after each, and stops when the pruner says so. ``warmup``: epochs every trial
    trains before it can be pruned (the median pruner's ``n_warmup_steps``; the halving pruners'
    ``min_resource``, at least 1).
    """

    pruner: Literal["median", "hyperband", "successive_halving"] = "median"
    epochs: builtins.int = Field(20, ge=1, description="an int >= 1")
    warmup: builtins.int = Field(0, ge=0, description="an int >= 0")


#: Keys a search run's manifest ``params`` carries besides the fixed parameters.


class EstimatorSpec(_Spec):
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


class TrackingSpec(_Spec):
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


class SweepSpec(_Spec):
    """A validated sweep spec; see the project README for every key."""

    source: Column
    group_by: Annotated[
        list[Column], Field(min_length=1, description="a str or a non-empty list of str")
    ]
    target: Column
    key: Column | None = None
    time_column: Column | None = None
    features: Features = Field(
        FeaturesExclude(),
        description="a list of column names or a mapping {exclude: [column names]}",
    )
    task: Literal["regression", "classification"]
    estimators: Annotated[list[EstimatorSpec], Field(min_length=1)]
    preprocessing: PreprocessingSpec = PreprocessingSpec()
    split: Split = RandomSplit()
    metrics: Annotated[list[MetricName], Field(min_length=1)] | None = None
    primary_metric: MetricName | None = None
    min_rows: int = Field(10, ge=2, description="an int >= 2")
    allowed_modules: Annotated[list[Column], Field(min_length=1)] = ["sklearn."]
    shards: Literal["auto"] | Annotated[int, Field(ge=1)] = Field(
        "auto", description="'auto' or an int >= 1"
    )
    tracking: TrackingSpec = TrackingSpec()
    store_models: Literal["best", "all"] | None = Field(
        None,
        description="'best' (each group's winner) or 'all' (every ok run); "
        "default: 'all' when tracking.log_models is 'all', else 'best'",
    )

    @field_validator("group_by", mode="before")
    @classmethod
    def _group_by_str(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _cross_checks(self) -> SweepSpec:
        default = _metrics.metrics_for_task(self.task)[:3]
        self.metrics = list(self.metrics or default)
        self.primary_metric = self.primary_metric or self.metrics[0]
        if self.primary_metric not in self.metrics:
            self.metrics.append(self.primary_metric)
        problems = _column_problems(self) + _metric_problems(self)
        names: dict[str, int] = {}
        for i, est in enumerate(self.estimators):
            if est.name in names:
                problems.append(
                    SpecProblem(
                        f"sweep.estimators[{i}].name",
                        f"must be unique; 'sweep.estimators[{names[est.name]}]' has the same name. "
                        f"Got {est.name!r} instead; set a distinct name.",
                    )
                )
            names.setdefault(est.name or "", i)
            shape = _search_problems(self, est, key=f"sweep.estimators[{i}]")
            problems += shape
            if not shape:
                found = estimator_problems(
                    est, key=f"sweep.estimators[{i}]", allowed=self.allowed_modules, task=self.task
                )
                problems += found or _pruning_problems(est, key=f"sweep.estimators[{i}]")
        problems += self._store_models_problems()
        if problems:
            raise _problems_error(problems)
        return self

    def _store_models_problems(self) -> list[SpecProblem]:
        """Resolve ``store_models``: the models MLflow logs are the stored ones."""
        logs_all = self.tracking.enabled and self.tracking.log_models == "all"
        if self.store_models is None:
            self.store_models = "all" if logs_all else "best"
        elif self.store_models == "best" and logs_all:
            detail = (
                "must be 'all' when sweep.tracking.log_models is 'all': MLflow logs the stored models. "
                "Got 'best' instead; set store_models: all, or log_models: best."
            )
            return [SpecProblem("sweep.store_models", detail)]
        return []

    @cached_property
    def primary_direction(self) -> Literal["minimize", "maximize"]:
        """Whether the primary metric is minimised or maximised."""
        return _metrics.METRICS[str(self.primary_metric)].direction

    def excluded_columns(self) -> list[str]:
        """Return the columns that are never features: group, target, key, time columns."""
        out = [*self.group_by, self.target, self.key, self.time_column]
        if isinstance(self.split, TimeSplit):
            out.append(self.split.column)
        return [c for c in dict.fromkeys(out) if c is not None]

    def feature_columns(self, columns: Sequence[str]) -> list[str]:
        """Resolve the feature columns against a table's ``columns``.

        Parameters
        ----------
        columns : sequence of str
            The columns of the feature table, in table order.

        Returns
        -------
        list of str
            The listed features as given, or, with ``{exclude: [...]}``, every column
            except the group, target, key, time and excluded columns, in table order.
        """
        if isinstance(self.features, list):
            return list(self.features)
        skip = {*self.excluded_columns(), *self.features.exclude}
        return [c for c in columns if c not in skip]


def _problems_error(problems: list[SpecProblem]) -> PydanticCustomError:
    """Carry cross-field problems through pydantic to :func:`parse_spec` as one error."""
    text = "; ".join(f"{p.key} {p.detail}" for p in problems)
    return PydanticCustomError("sweep_spec", "{text}", {"text": text, "problems": problems})


def _column_problems(spec: SweepSpec) -> list[SpecProblem]:
    """A column may play one role only: group, target, key, time or feature."""
    problems: list[SpecProblem] = []
    seen: dict[str, str] = {}
    for i, col in enumerate(spec.group_by):
        if col in seen:
            problems.append(
                SpecProblem(
                    f"sweep.group_by[{i}]", f"repeats column {col!r}, already at {seen[col]}."
                )
            )
        seen.setdefault(col, f"sweep.group_by[{i}]")
    roles = {"target": spec.target, "key": spec.key, "time_column": spec.time_column}
    for role, col in roles.items():
        if col is not None and col in seen:
            problems.append(
                SpecProblem(f"sweep.{role}", f"names column {col!r}, which is already {seen[col]}.")
            )
        if col is not None:
            seen.setdefault(col, f"sweep.{role}")
    if isinstance(spec.features, list):
        for i, col in enumerate(spec.features):
            if col in seen:
                problems.append(
                    SpecProblem(
                        f"sweep.features[{i}]",
                        f"names column {col!r}, which is already {seen[col]}; a column cannot also be a feature.",
                    )
                )
            seen.setdefault(col, f"sweep.features[{i}]")
    return problems


def _search_problems(spec: SweepSpec, est: EstimatorSpec, *, key: str) -> list[SpecProblem]:
    """Check that ``grid``/``space``/``trials``/``halving``/``pruning`` fit the estimator's ``search``."""
    problems: list[SpecProblem] = []
    if est.pruning is not None and est.search != "optuna":
        problems.append(
            SpecProblem(
                f"{key}.pruning",
                f"is only implemented for search: optuna. Got search {est.search!r} instead; "
                f"set {key}.search: optuna or remove {key}.pruning.",
            )
        )
    if est.pruning is not None and est.pruning.warmup >= est.pruning.epochs:
        problems.append(
            SpecProblem(
                f"{key}.pruning.warmup",
                f"must be less than {key}.pruning.epochs ({est.pruning.epochs}), or no trial can be pruned. "
                f"Got {est.pruning.warmup} instead.",
            )
        )
    if est.halving is not None and est.search == "optuna":
        problems.append(
            SpecProblem(
                f"{key}.halving",
                f"is only implemented for search: random or grid. Got search 'optuna' instead; "
                f"remove it (Optuna stops trials early with {key}.pruning).",
            )
        )
    if est.search == "grid":
        for part in ("space", "trials"):
            if getattr(est, part):
                problems.append(
                    SpecProblem(
                        f"{key}.{part}",
                        f"is only used with search: random or optuna. Got search 'grid' instead; "
                        f"set {key}.search or remove {key}.{part}.",
                    )
                )
        if est.halving is not None:
            points = math.prod(len(values) for values in est.grid.values())
            if points < 2:
                problems.append(
                    SpecProblem(
                        f"{key}.grid",
                        f"must have at least 2 points with {key}.halving (halving picks among the grid's "
                        f"configurations). Got {points} point(s) instead; add values or remove {key}.halving.",
                    )
                )
            problems += _search_unit_problems(spec, est, key=key, where=f"{key}.halving")
        return problems
    if est.grid:
        problems.append(
            SpecProblem(
                f"{key}.grid",
                f"is only used with search: grid. Got search {est.search!r} instead; "
                f"write the values as {key}.space.<param>: {{choice: [...]}}.",
            )
        )
    for part in ("space", "trials"):
        if not getattr(est, part):
            problems.append(
                SpecProblem(
                    f"{key}.{part}", f"is required with search {est.search!r} but missing; add it."
                )
            )
    problems += _search_unit_problems(spec, est, key=key, where=f"{key}.search")
    for name, dim in est.space.items():
        where = f"{key}.space.{name}"
        kind = dim.kind()
        if kind is None:
            got = dim.model_dump(exclude_defaults=True)
            problems.append(
                SpecProblem(
                    where, f"must set exactly one of 'choice', 'int', 'float'. Got {got!r} instead."
                )
            )
            continue
        if kind == "choice":
            if dim.log:
                problems.append(SpecProblem(f"{where}.log", "only applies to int or float ranges."))
            continue
        low, high = getattr(dim, kind)
        if not low < high:
            problems.append(
                SpecProblem(
                    f"{where}.{kind}",
                    f"must be a list [low, high] with low < high. Got {[low, high]!r} instead.",
                )
            )
        elif dim.log and low <= 0:
            problems.append(
                SpecProblem(
                    f"{where}.{kind}",
                    f"must have low > 0 with log: true. Got {[low, high]!r} instead.",
                )
            )
    return problems


def _search_unit_problems(
    spec: SweepSpec, est: EstimatorSpec, *, key: str, where: str
) -> list[SpecProblem]:
    """A search run needs a validation split carved from one training split, and reserves its keys."""
    problems = []
    if isinstance(spec.split, KFoldSplit):
        what = f"is {est.search!r}, which" if where.endswith(".search") else "is set, which"
        problems.append(
            SpecProblem(
                where,
                f"{what} needs a random or time split (trials are scored on a validation "
                f"split carved from the training rows). Got sweep.split.kind 'kfold' instead.",
            )
        )
    kind = "halving" if est.search == "grid" else f"search {est.search!r}"
    for name in sorted(set(est.params) & set(SEARCH_KEYS)):
        problems.append(
            SpecProblem(
                f"{key}.params.{name}", f"is reserved with {kind}; it cannot be a fixed param."
            )
        )
    return problems


def _pruning_problems(est: EstimatorSpec, *, key: str) -> list[SpecProblem]:
    """Pruning trains each trial epoch by epoch with ``partial_fit``: the estimator must have it."""
    if est.pruning is None:
        return []
    instance = import_estimator(est.estimator)(**est.params)
    if hasattr(instance, "partial_fit"):
        return []
    name = type(instance).__name__
    return [
        SpecProblem(
            f"{key}.pruning",
            f"needs an estimator with partial_fit (each trial trains epoch by epoch). Got estimator "
            f"{est.estimator!r} instead, and {name} has no partial_fit; use one that has "
            f"(SGDRegressor, SGDClassifier, MLPRegressor, MLPClassifier, Perceptron, ...) or remove {key}.pruning.",
        )
    ]


def _metric_problems(spec: SweepSpec) -> list[SpecProblem]:
    valid = _metrics.metrics_for_task(spec.task)
    tail = f"Valid metrics for task {spec.task!r} are: {valid}."
    problems = [
        SpecProblem(
            f"sweep.metrics[{i}]",
            f"must be a metric for task {spec.task!r}. Got {name!r} instead. {tail}",
        )
        for i, name in enumerate(spec.metrics or [])
        if name not in valid
    ]
    if spec.primary_metric not in valid:
        problems.append(
            SpecProblem(
                "sweep.primary_metric",
                f"must be a metric for task {spec.task!r}. Got {spec.primary_metric!r} instead. {tail}",
            )
        )
    for i, name in enumerate(spec.metrics or []):
        if (spec.metrics or []).index(name) != i:
            problems.append(SpecProblem(f"sweep.metrics[{i}]", f"repeats metric {name!r}."))
    return problems


def _table_problems(spec: SweepSpec, dtypes: Mapping[str, str]) -> list[SpecProblem]:
    available = f"Available columns are: {list(dtypes)}."
    keys = [(f"sweep.group_by[{i}]", c) for i, c in enumerate(spec.group_by)]
    keys += [
        ("sweep.target", spec.target),
        ("sweep.key", spec.key),
        ("sweep.time_column", spec.time_column),
    ]
    if isinstance(spec.split, TimeSplit):
        keys.append(("sweep.split.column", spec.split.column))
    if isinstance(spec.features, list):
        keys += [(f"sweep.features[{i}]", c) for i, c in enumerate(spec.features)]
    one_hot = spec.preprocessing.one_hot
    if one_hot is not None and isinstance(one_hot.columns, list):
        keys += [
            (f"sweep.preprocessing.one_hot.columns[{i}]", c) for i, c in enumerate(one_hot.columns)
        ]
    problems = [
        SpecProblem(
            key, f"names column {col!r}, which is not in table {spec.source!r}. {available}"
        )
        for key, col in keys
        if col is not None and col not in dtypes
    ]
    if spec.task == "regression" and dtypes.get(spec.target, "numeric") not in NUMERIC_KINDS:
        problems.append(
            SpecProblem(
                "sweep.target",
                f"names column {spec.target!r} of type {dtypes[spec.target]!r}; task 'regression' needs a "
                "numeric target. Cast it in the feature model or use task: classification.",
            )
        )
    features = [c for c in spec.feature_columns(list(dtypes)) if c in dtypes]
    if not features:
        problems.append(
            SpecProblem(
                "sweep.features",
                f"selects no feature columns from table {spec.source!r}. {available}",
            )
        )
    encoded = set(features) if one_hot is not None and one_hot.columns == "auto" else set()
    if one_hot is not None and isinstance(one_hot.columns, list):
        encoded = set(one_hot.columns)
    for col in features:
        if dtypes[col] not in NUMERIC_KINDS and col not in encoded:
            key = (
                f"sweep.features[{spec.features.index(col)}]"
                if isinstance(spec.features, list)
                else "sweep.features"
            )
            problems.append(
                SpecProblem(
                    key,
                    f"selects column {col!r} of type {dtypes[col]!r}, which is not numeric and no one-hot step "
                    "encodes it; add it to sweep.preprocessing.one_hot.columns or use columns: auto.",
                )
            )
    return problems


def parse_spec(raw: Mapping[str, Any] | None, *, model: str) -> SweepSpec:
    """Validate a raw ``sweep`` config into a :class:`SweepSpec`.

    Parameters
    ----------
    raw : mapping or None
        The value of ``dbt.config.get("sweep")``.
    model : str
        The dbt model name, used in error messages.

    Returns
    -------
    SweepSpec

    Raises
    ------
    SweepSpecError
        With one line per problem, each naming the key path (``sweep.estimators[1].grid.C``).

    Examples
    --------
    >>> spec = parse_spec(
    ...     {"source": "feat_demo", "group_by": "g", "target": "y", "task": "regression",
    ...      "estimators": [{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 1.0]}}]},
    ...     model="sweep_runs",
    ... )
    >>> spec.group_by, spec.metrics, spec.primary_direction
    (['g'], ['mae', 'rmse', 'r2'], 'minimize')
    """
    if raw is None:
        problem = SpecProblem(
            "sweep",
            "is missing: the model has no `sweep` config. Got None instead; "
            "declare it under the model's config in YAML (sweep: {...}).",
        )
        raise SweepSpecError([problem], model=model)
    if not isinstance(raw, Mapping):
        raise SweepSpecError(
            [SpecProblem("sweep", f"must be a mapping. Got {raw!r} instead.")], model=model
        )
    try:
        return SweepSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise SweepSpecError(problems_from_validation(exc, SweepSpec), model=model) from None


def check_columns(spec: SweepSpec, dtypes: Mapping[str, str], *, model: str) -> None:
    """Check the spec against the feature table's columns.

    Parameters
    ----------
    spec : SweepSpec
        A validated spec.
    dtypes : mapping of str to str
        Column name -> one of ``"numeric"``, ``"string"``, ``"boolean"``, ``"timestamp"``, ``"other"``.
    model : str
        The dbt model name, used in error messages.

    Raises
    ------
    SweepSpecError
        For missing columns, non-numeric features without an encoder, or no features.
    """
    problems = _table_problems(spec, dtypes)
    if problems:
        raise SweepSpecError(problems, model=model)


def spec_hash(spec: SweepSpec) -> str:
    """Return a stable 16-hex-digit sha256 of the spec's canonical JSON."""
    return canonical_hash(spec.model_dump(mode="json"))


def canonical_hash(obj: Any) -> str:
    """Return sha256[:16] of ``obj`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
