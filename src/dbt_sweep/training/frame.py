"""The output of training: one row per manifest row, with the same columns and dtypes every time.

:func:`run_columns` is the single list of output columns; :func:`run_schema` is the DDL
``applyInPandas`` needs, and :func:`results_frame` builds the pandas frame a unit returns from its
per-run result dicts. The dtypes are fixed so Arrow turns every missing value into SQL NULL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dbt_sweep.manifest import WORK_UNIT_SHARD_COLUMN
from dbt_sweep.spec import SweepSpec

__all__ = ["error_text", "records", "results_frame", "run_columns", "run_schema"]

MAX_ERROR = 2000  # characters of an ``error`` value: a traceback-sized message, not a log
PASSTHROUGH = ["estimator_name", "estimator", "params", "search", WORK_UNIT_SHARD_COLUMN]
HEAD = [
    ("estimator_name", "string"),
    ("estimator", "string"),
    ("params", "string"),
    ("search", "string"),
    (WORK_UNIT_SHARD_COLUMN, "int"),
    ("status", "string"),
    ("error", "string"),
]
TAIL = [
    ("primary_metric", "double"),
    ("n_train", "bigint"),
    ("n_test", "bigint"),
    ("fit_seconds", "double"),
    ("score_seconds", "double"),
    ("model", "binary"),
    ("trained_at", "timestamp"),
    ("trials", "string"),  # search runs: JSON array of every trial; null for grid runs
]
# pandas dtypes per Spark type: NaN in float64 and <NA> in Int64 both arrive as SQL NULL
# through Arrow (pyspark masks ``series.isnull()``).
PANDAS_DTYPES = {
    "string": "object",
    "int": "int32",
    "double": "float64",
    "bigint": "Int64",
    "binary": "object",
}


def run_columns(
    spec: SweepSpec, group_types: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """Return ``train_unit``'s output columns as ``(name, Spark SQL type)``.

    Parameters
    ----------
    spec : SweepSpec
        Gives the metric columns.
    group_types : mapping of str to str or None, default=None
        Group column -> Spark SQL type, in ``spec.group_by`` order; placed right after
        ``run_key``. When None, the group columns are left out.

    Returns
    -------
    list of (str, str)
        ``run_key``, the group columns, the manifest's columns, ``status``, ``error``, one
        ``double`` per metric, then timings, the model bytes and the trials.
    """
    metrics = [(name, "double") for name in spec.metrics or []]
    return [("run_key", "string"), *(group_types or {}).items(), *HEAD, *metrics, *TAIL]


def run_schema(spec: SweepSpec, group_types: Mapping[str, str]) -> str:
    """Return the DDL schema string for ``applyInPandas``, e.g. ``"`run_key` string, ..."``.

    Parameters
    ----------
    spec : SweepSpec
        Gives the metric columns.
    group_types : mapping of str to str
        Group column -> Spark SQL type, in ``spec.group_by`` order.

    Returns
    -------
    str
        Backquoted names and types of :func:`run_columns`, comma separated.
    """
    return ", ".join(f"`{name}` {kind}" for name, kind in run_columns(spec, group_types))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")``, the same dicts at a tenth of the cost on a unit's few rows.

    pandas reads every column through ``iloc`` for each call: 0.7 ms for a unit's two result rows,
    paid several times per unit by training and tracking. Columns read by label come from the
    frame's cache; a frame with repeated labels takes pandas' own path.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1, 2], "b": ["x", None], "n": pd.array([1, None], dtype="Int64")})
    >>> records(frame) == frame.to_dict("records")
    True
    >>> records(frame)[1]["n"] is None
    True
    """
    names = list(frame.columns)
    if not frame.columns.is_unique:
        return frame.to_dict("records")  # type: ignore[return-value]
    columns = [_values(frame[name]) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _values(column: pd.Series) -> list[Any]:
    """A column's cells as ``to_dict`` gives them: Python scalars, a nullable type's NA as None."""
    values = column.tolist()
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return [None if value is pd.NA else value for value in values]
    return values


def error_text(exc: BaseException) -> str:
    """Return the ``error`` value of a run that raised ``exc``: its type and message, truncated.

    Examples
    --------
    >>> error_text(ValueError("boom"))
    'ValueError: boom'
    """
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]


def results_frame(
    manifest: pd.DataFrame, results: list[dict[str, Any]], spec: SweepSpec, now: pd.Timestamp
) -> pd.DataFrame:
    """Assemble a unit's output: manifest identity columns, then the results, with fixed dtypes.

    Parameters
    ----------
    manifest : DataFrame
        The unit's manifest rows.
    results : list of dict
        One result per manifest row, in the same order: ``status`` and any of the other output
        columns (missing ones are null). A ``params`` value (a search's best params) replaces
        the manifest's.
    spec : SweepSpec
        Gives the group and metric columns.
    now : Timestamp
        The ``trained_at`` of every row.

    Returns
    -------
    DataFrame
        Columns as :func:`run_columns` with the group columns after ``run_key``.
    """
    # Built column by column into one dict and one DataFrame: per-column assignment on a frame
    # costs more than training a small unit's runs.
    n = len(manifest)
    columns: dict[str, Any] = {
        name: manifest[name].to_numpy() for name in ["run_key", *spec.group_by, *PASSTHROUGH]
    }
    columns[WORK_UNIT_SHARD_COLUMN] = columns[WORK_UNIT_SHARD_COLUMN].astype("int32")
    searched = [result.get("params") for result in results]
    if any(value is not None for value in searched):  # search runs: best params replace the space
        columns["params"] = np.array(
            [
                found if found is not None else given
                for found, given in zip(searched, columns["params"], strict=True)
            ],
            dtype=object,
        )
    for name, kind in run_columns(spec)[len(HEAD) - 1 :]:
        if name == "trained_at":
            columns[name] = pd.Series(now, index=range(n), dtype="datetime64[ns, UTC]")
            continue
        values = [result.get(name) for result in results]
        if kind in ("string", "binary"):
            columns[name] = np.array(values, dtype=object) if n else np.array([], dtype=object)
        elif kind == "bigint":
            columns[name] = pd.array(values, dtype="Int64")
        else:
            columns[name] = np.array(
                [np.nan if v is None else v for v in values], dtype=PANDAS_DTYPES[kind]
            )
    return pd.DataFrame(columns, index=range(n))
