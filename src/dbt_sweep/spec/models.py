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
from dbt_sweep.spec.base import doc
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
    """A validated sweep spec; see docs/reference/spec.md for every key."""

    source: Column = Field(
        json_schema_extra=doc(
            "The feature table: the dbt model whose rows are trained on, by name as in `dbt.ref`. "
            "The spec's columns are checked against its columns before anything trains."
        )
    )
    group_by: Annotated[
        list[Column], Field(min_length=1, description="a str or a non-empty list of str")
    ] = Field(
        json_schema_extra=doc(
            "The group column, or a list of them: every distinct combination of their values is "
            "one group, trained separately with its own runs and winner. Never features."
        )
    )
    target: Column = Field(
        json_schema_extra=doc(
            "The column to predict: numeric for regression, the class labels for classification. "
            "A null target fails the group's runs."
        )
    )
    key: Column | None = Field(
        None,
        json_schema_extra=doc(
            "A column that identifies each row of a group (null or repeated values fail the build); "
            "rows are sorted by it before the split, so splits are reproducible. Never a feature; "
            "required by predictions models. `null`: rows are sorted by every training column."
        ),
    )
    time_column: Column | None = Field(
        None,
        json_schema_extra=doc(
            "A time column of the rows, read by training but never a feature. The time split orders "
            "rows by `split.column`, not by this."
        ),
    )
    features: Features = Field(
        FeaturesExclude(),
        description="a list of column names or a mapping {exclude: [column names]}",
        json_schema_extra=doc(
            "The feature columns: a list of names (used in list order), or an `exclude` mapping: "
            "every column of `source` except the group, target, key and time columns and the "
            "excluded ones, in table order. Default: every such column."
        ),
    )
    task: Literal["regression", "classification"] = Field(
        json_schema_extra=doc(
            "What the estimators do: it decides which estimators and metrics are valid, the default "
            "metrics, and stratified splits (classification)."
        )
    )
    estimators: Annotated[list[EstimatorSpec], Field(min_length=1)] = Field(
        json_schema_extra=doc(
            "The estimators trained on every group, each with its parameters, grid or search; "
            "every group gets the same runs."
        )
    )
    preprocessing: PreprocessingSpec = Field(
        PreprocessingSpec(),
        json_schema_extra=doc(
            "The steps fitted before the estimator, inside the model's Pipeline on the training "
            "rows only. Default: none (numeric features are passed as they are)."
        ),
    )
    split: Split = Field(
        RandomSplit(),
        json_schema_extra=doc(
            "How a group's rows are split into training and test rows, by `kind`: `random` "
            "(default), `time` or `kfold`. Rows are re-sorted by key after the split."
        ),
    )
    metrics: Annotated[list[MetricName], Field(min_length=1)] | None = Field(
        None,
        json_schema_extra=doc(
            "The metrics scored on the test rows of every run, one column each, of the spec's "
            "task; `null`: the task's defaults (`[mae, rmse, r2]` or `[accuracy, f1, roc_auc]`), "
            "plus `primary_metric` if it is another."
        ),
    )
    primary_metric: MetricName | None = Field(
        None,
        json_schema_extra=doc(
            "The metric that picks each group's winner (in its direction; ties to the smallest "
            "`run_key`) and that searches optimise. `null`: the first of `metrics`."
        ),
    )
    min_rows: int = Field(
        10,
        ge=2,
        description="an int >= 2",
        json_schema_extra=doc("A group with fewer rows is not trained: its runs are `skipped`."),
    )
    max_group_rows: int = Field(
        1_000_000,
        ge=1,
        description="an int >= 1",
        json_schema_extra=doc(
            "A group with more rows is not sent to a Python worker, which holds a group's rows in "
            "memory at once: its runs are `failed`, with an error naming the group, its row count "
            "and this key. Raise it when the executors have the memory "
            "(`spark.executor.memory`, `spark.executor.pyspark.memory`)."
        ),
    )
    allowed_modules: Annotated[list[Column], Field(min_length=1)] = Field(
        ["sklearn."],
        json_schema_extra=doc(
            "The import-path prefixes an estimator may come from, checked before it is imported "
            "and again when a stored model is loaded: a spec never runs arbitrary code."
        ),
    )
    shards: Literal["auto"] | Annotated[int, Field(ge=1)] = Field(
        "auto",
        description="'auto' or an int >= 1",
        json_schema_extra=doc(
            "How many work units (Spark tasks) each group's runs are split into, at most one per "
            "run. `auto`: one per group, or, with fewer groups than twice the cluster's parallel "
            "tasks, enough to make about that many. Scheduling only: results do not change."
        ),
    )
    tracking: TrackingSpec = Field(
        TrackingSpec(),
        json_schema_extra=doc(
            "Where and how much of the sweep MLflow logs. Default: on, into `$MLFLOW_TRACKING_URI` "
            "or the embedded store, one child run per run. Never part of `run_key`."
        ),
    )
    refit: bool = Field(
        False,
        description="true: each stored model (a group's winner) is refit on all the group's rows "
        "before it is stored; its metrics stay those of the held-out evaluation",
        json_schema_extra=doc(
            "`true`: each stored model (a group's winner) is refit on all the group's rows before "
            "it is stored; its metrics stay those of the held-out rows, `n_train` counts all rows. "
            "`false` (default): the model fitted on the training rows (k-fold always refits)."
        ),
    )
    retrain: Literal["changed", "all"] = Field(
        "changed",
        description="'changed' (a scheduled build trains only runs whose data, configuration or "
        "versions changed) or 'all' (every build retrains every run)",
        json_schema_extra=doc(
            "`changed` (default): a scheduled build trains only the runs whose data, configuration "
            "or versions changed and carries the others over; `all`: every build retrains every run."
        ),
    )
    store_models: Literal["best", "all"] | None = Field(
        None,
        description="'best' (each group's winner) or 'all' (every ok run); "
        "default: 'all' when tracking.log_models is 'all', else 'best'",
        json_schema_extra=doc(
            "Which runs keep their fitted Pipeline in `sweep_runs.model`: `best` (each group's "
            "winner; the others' `model` is null) or `all` (every `ok` run). `null`: `all` when "
            "`tracking.log_models` is `all` (which needs it), else `best`."
        ),
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
