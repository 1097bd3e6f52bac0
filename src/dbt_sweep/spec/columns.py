"""The spec held against the feature table: every column it names exists and every feature is usable.

Run where the table's schema is known (the dbt model, before anything trains), with each column
reduced to a coarse kind (:func:`dbt_sweep.spark.columns.column_kinds`): the columns the spec names must exist,
a regression target must be numeric, and a feature that is not numeric needs a one-hot step.
"""

from __future__ import annotations

from collections.abc import Mapping

from dbt_sweep.exceptions import SpecProblem, SweepSpecError
from dbt_sweep.spec.models import SweepSpec
from dbt_sweep.spec.parts import TimeSplit

__all__ = ["check_columns"]

#: The column kinds a model takes as numbers without encoding.
_NUMERIC_KINDS = frozenset({"numeric", "boolean"})

#: The columns ``sweep_manifest`` and ``sweep_runs`` hold beside the group columns (plus one per
#: metric): a group column of one of these names would collide with it in those tables.
RUN_COLUMNS = frozenset(
    {
        "run_key", "estimator_name", "estimator", "params", "search", "shard", "n_rows",
        "data_fingerprint", "est_cost", "spec_hash", "status", "error", "primary_metric",
        "n_train", "n_test", "fit_seconds", "score_seconds", "model", "trained_at", "trials",
        "primary_metric_name", "primary_direction", "mlflow_run_id", "dbt_invocation_id",
        "trained_with",
    }
)  # fmt: skip
#: The columns a predictions table holds beside the key, group and partition columns.
PREDICTION_COLUMNS = frozenset(
    {"prediction", "probabilities", "status", "reason", "run_key", "estimator_name", "scored_at"}
)
#: Columns dbt-sweep adds to the feature rows on their way to the Spark workers.
INTERNAL_COLUMNS = frozenset({"_sweep_unit", "_sweep_row"})


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

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec(
    ...     {"source": "feat_demo", "group_by": "g", "target": "y", "task": "regression",
    ...      "estimators": [{"estimator": "sklearn.linear_model.Ridge"}]},
    ...     model="sweep_runs",
    ... )
    >>> check_columns(spec, {"g": "string", "y": "numeric", "x": "numeric"}, model="sweep_runs")
    >>> check_columns(spec, {"g": "string", "x": "numeric"}, model="sweep_runs")
    Traceback (most recent call last):
    ...
    dbt_sweep.exceptions.SweepSpecError: The 'sweep.target' key of the sweep spec in model 'sweep_runs' names column 'y', which is not in table 'feat_demo'. Available columns are: ['g', 'x'].
    """
    problems = _table_problems(spec, dtypes)
    if problems:
        raise SweepSpecError(problems, model=model)


def _table_problems(spec: SweepSpec, dtypes: Mapping[str, str]) -> list[SpecProblem]:
    """List every problem of ``spec`` against a table's columns: the check of :func:`check_columns`."""
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
    problems += _reserved_problems(spec, dtypes)
    if spec.task == "regression" and dtypes.get(spec.target, "numeric") not in _NUMERIC_KINDS:
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
        if dtypes[col] not in _NUMERIC_KINDS and col not in encoded:
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


def _reserved_problems(spec: SweepSpec, dtypes: Mapping[str, str]) -> list[SpecProblem]:
    """Column names that would collide with the columns dbt-sweep writes or adds."""
    taken = sorted(RUN_COLUMNS | set(spec.metrics or []))
    problems = [
        SpecProblem(
            f"sweep.group_by[{i}]",
            f"names column {col!r}, which sweep_runs and sweep_manifest write themselves. Group "
            f"columns must not be one of {taken}; rename it in the feature model.",
        )
        for i, col in enumerate(spec.group_by)
        if col in taken
    ]
    if spec.key in PREDICTION_COLUMNS:
        problems.append(
            SpecProblem(
                "sweep.key",
                f"names column {spec.key!r}, which a predictions table writes itself. The key "
                f"must not be one of {sorted(PREDICTION_COLUMNS)}; rename it in the feature model.",
            )
        )
    internal = sorted(INTERNAL_COLUMNS & set(dtypes))
    if internal:
        problems.append(
            SpecProblem(
                "sweep.source",
                f"names table {spec.source!r}, which has the columns {internal}; dbt-sweep adds "
                f"columns of those names while it trains ({sorted(INTERNAL_COLUMNS)}). Rename "
                "them in the feature model.",
            )
        )
    return problems
