"""The sweep spec as one typed pydantic model: :class:`SweepSpec`, assembled from its parts.

Every field's constraint is declared on it (``Literal``, ``Field``); its model validator fills the
defaults that depend on other fields (metrics, ``store_models``) and runs the cross-field checks of
:mod:`dbt_sweep.spec.checks`, raising all their problems as one error that
:func:`dbt_sweep.spec.parse_spec` turns into a :class:`~dbt_sweep.exceptions.SweepSpecError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from dbt_sweep import metrics as _metrics
from dbt_sweep.exceptions import SpecProblem
from dbt_sweep.spec.checks import column_problems, estimator_list_problems, metric_problems
from dbt_sweep.spec.parts import (
    Column,
    EstimatorSpec,
    Features,
    FeaturesExclude,
    MetricName,
    PreprocessingSpec,
    RandomSplit,
    SpecModel,
    Split,
    TimeSplit,
    TrackingSpec,
)
from dbt_sweep.spec.problems import problems_error

__all__ = ["SweepSpec"]


class SweepSpec(SpecModel):
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
    refit: bool = Field(
        False,
        description="true: each stored model (a group's winner) is refit on all the group's rows "
        "before it is stored; its metrics stay those of the held-out evaluation",
    )
    retrain: Literal["changed", "all"] = Field(
        "changed",
        description="'changed' (a scheduled build trains only runs whose data, configuration or "
        "versions changed) or 'all' (every build retrains every run)",
    )
    store_models: Literal["best", "all"] | None = Field(
        None,
        description="'best' (each group's winner) or 'all' (every ok run); "
        "default: 'all' when tracking.log_models is 'all', else 'best'",
    )

    @field_validator("group_by", mode="before")
    @classmethod
    def _group_by_str(cls, value: Any) -> Any:
        """Accept one column as ``group_by: g``, short for ``group_by: [g]``."""
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _cross_checks(self) -> SweepSpec:
        """Fill the metric defaults, then raise every cross-field problem at once."""
        listed = self.metrics is not None
        default = _metrics.metrics_for_task(self.task)[:3]
        self.metrics = list(self.metrics or default)
        self.primary_metric = self.primary_metric or self.metrics[0]
        problems = column_problems(
            group_by=self.group_by, target=self.target, key=self.key,
            time_column=self.time_column, features=self.features,
        )  # fmt: skip
        problems += metric_problems(
            task=self.task, metrics=self.metrics, primary_metric=self.primary_metric
        ) or self._primary_metric_problems(listed=listed)
        problems += estimator_list_problems(
            self.estimators, split=self.split, allowed=self.allowed_modules, task=self.task
        )
        problems += self._store_models_problems()
        if problems:
            raise problems_error(problems)
        return self

    def _primary_metric_problems(self, *, listed: bool) -> list[SpecProblem]:
        """A primary metric outside listed metrics is an error (the metrics are the table's
        columns: never widened silently); with the default metrics it is added to them."""
        assert self.metrics is not None
        if self.primary_metric in self.metrics:
            return []
        if not listed:
            self.metrics.append(str(self.primary_metric))
            return []
        detail = (
            f"must be one of the listed metrics {self.metrics}. Got {self.primary_metric!r} "
            "instead. Add it to 'metrics', or leave 'metrics' out to get the task's defaults "
            "plus the primary metric."
        )
        return [SpecProblem("sweep.primary_metric", detail)]

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
