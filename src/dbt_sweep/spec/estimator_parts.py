"""The estimator parts of a sweep spec: ``sweep.estimators[i]`` and its search settings.

:class:`EstimatorSpec` names an estimator class and how its parameters are searched (a grid, or a
``random``/``optuna`` search over :class:`SpaceDim` ranges), with optional early stopping
(:class:`HalvingSpec`, :class:`PruningSpec`). Import them from :mod:`dbt_sweep.spec.parts` or
:mod:`dbt_sweep.spec`; the checks that span their fields live in :mod:`dbt_sweep.spec.search_checks`.
"""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from dbt_sweep.spec.base import Column, SpecModel, doc

__all__ = ["EstimatorSpec", "HalvingSpec", "PruningSpec", "SpaceDim"]


class SpaceDim(SpecModel):
    """One parameter's search range: exactly one of ``choice``, ``int`` or ``float``.

    ``log`` samples ``int``/``float`` ranges on a log scale (``low`` must then be > 0).
    """

    choice: Annotated[list[Any], Field(min_length=1)] | None = Field(
        None,
        description="a non-empty list of values",
        json_schema_extra=doc("The values to pick from, each equally likely (any YAML values)."),
    )
    int: Annotated[list[builtins.int], Field(min_length=2, max_length=2)] | None = Field(
        None,
        description="a list [low, high] of two ints",
        json_schema_extra=doc("An integer range `[low, high]`, both ends included; low < high."),
    )
    float: Annotated[list[builtins.float], Field(min_length=2, max_length=2)] | None = Field(
        None,
        description="a list [low, high] of two numbers",
        json_schema_extra=doc("A real range `[low, high]`, drawn uniformly; low < high."),
    )
    log: bool = Field(
        False,
        json_schema_extra=doc(
            "`int` and `float` ranges only: draw uniformly in log space, for parameters that span "
            "orders of magnitude (`C`, `alpha`); `low` must then be > 0."
        ),
    )

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

    factor: builtins.int = Field(
        3,
        ge=2,
        description="an int >= 2",
        json_schema_extra=doc(
            "Each round keeps the best `1/factor` of the configurations and multiplies their "
            "training rows by `factor`, until one is left or they train on every row."
        ),
    )
    min_rows: builtins.int = Field(
        30,
        ge=2,
        description="an int >= 2",
        json_schema_extra=doc(
            "The training rows every configuration is fitted on in the first round (drawn from the "
            "search's training rows); eliminated configurations are `PRUNED` trials."
        ),
    )


class PruningSpec(SpecModel):
    """Optuna pruning for ``search: optuna`` on an estimator with ``partial_fit``.

    Each trial trains ``epochs`` passes of ``partial_fit``, reports the primary metric on the
    validation split after each, and stops when the pruner says so. ``warmup``: epochs every trial
    trains before it can be pruned (the median pruner's ``n_warmup_steps``; the halving pruners'
    ``min_resource``, at least 1).
    """

    pruner: Literal["median", "hyperband", "successive_halving"] = Field(
        "median",
        json_schema_extra=doc(
            "The Optuna pruner: `median` (`MedianPruner`, never prunes in the first 5 trials), "
            "`hyperband` (`HyperbandPruner`, `max_resource` = `epochs`) or `successive_halving`."
        ),
    )
    epochs: builtins.int = Field(
        20,
        ge=1,
        description="an int >= 1",
        json_schema_extra=doc(
            "The most `partial_fit` passes over the training rows a trial makes, reporting the "
            "primary metric after each; the winner is refit with this many passes."
        ),
    )
    warmup: builtins.int = Field(
        0,
        ge=0,
        description="an int >= 0",
        json_schema_extra=doc(
            "Epochs every trial trains before it can be pruned (`n_warmup_steps` of `median`, "
            "`min_resource` of the other pruners, at least 1); must be less than `epochs`."
        ),
    )


class EstimatorSpec(SpecModel):
    """One ``sweep.estimators[i]`` entry: an estimator class and how its parameters are searched."""

    name: Column | None = Field(
        None,
        json_schema_extra=doc(
            "The entry's name, unique among the estimators: the runs' `estimator_name` and part of "
            "their `run_key`. Default: the class name, lower-cased (`sklearn.svm.SVR` → `svr`)."
        ),
    )
    estimator: str = Field(
        pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$",
        description="an import path 'module.Class'",
        json_schema_extra=doc(
            "The estimator class's import path (`sklearn.svm.SVR`). It must start with one of "
            "`allowed_modules` (checked before it is imported) and suit the task."
        ),
    )
    params: dict[str, Any] = Field(
        {},
        json_schema_extra=doc(
            "Fixed constructor parameters of every run of this entry, checked against the "
            "estimator's own `_parameter_constraints`; grid and search values are added to them."
        ),
    )
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        {},
        json_schema_extra=doc(
            "`search: grid` only: parameter → list of values; each combination is one run per "
            "group, or, with `halving`, a candidate of one search run. Empty: a single run."
        ),
    )
    search: Literal["grid", "random", "optuna"] = Field(
        "grid",
        json_schema_extra=doc(
            "`grid` (default): one run per grid point. `random` (seeded numpy draws) or `optuna` "
            "(seeded TPE sampler): ONE run per group that tries `trials` points of `space` on a "
            "validation split carved from the training rows and keeps the best."
        ),
    )
    space: dict[str, SpaceDim] = Field(
        {},
        json_schema_extra=doc(
            "`random` and `optuna` only (required there): parameter → its search range."
        ),
    )
    trials: Annotated[builtins.int, Field(ge=1)] | None = Field(
        None,
        description="an int >= 1",
        json_schema_extra=doc(
            "`random` and `optuna` only (required there): how many configurations the search "
            "tries; the run's `est_cost` is multiplied by it."
        ),
    )
    seed: builtins.int = Field(
        0,
        json_schema_extra=doc(
            "Seeds a search run (random draws or Optuna's sampler, its validation split, and a "
            "`random_state` the estimator leaves unset) and halving on a grid; unused by a plain grid."
        ),
    )
    halving: HalvingSpec | None = Field(
        None,
        json_schema_extra=doc(
            "Successive halving for `search: random` or `grid` (a grid then becomes one search run "
            "per group over its points); `null` (default): every configuration trains on all rows."
        ),
    )
    pruning: PruningSpec | None = Field(
        None,
        json_schema_extra=doc(
            "Optuna pruning for `search: optuna` on an estimator with `partial_fit`: trials train "
            "epoch by epoch and stop early; `null` (default): each trial is one full `fit`."
        ),
    )

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
