"""Groups too large for a Python worker fail on the driver, by name, before any task starts.

A grouped-map call holds a whole group's rows in one pandas frame; a group larger than the worker's
memory kills the worker, Spark retries the task until the stage fails, and the build loses every
group's runs. Groups above ``sweep.max_group_rows`` (the manifest's ``n_rows``) are therefore never
sent to a worker: their runs become ``failed`` rows whose error names the group, its row count and
the key to raise, and every other group trains as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep.spark.columns import local_frame
from dbt_sweep.spec import SweepSpec
from dbt_sweep.training.frame import results_frame

__all__ = ["oversized_error", "oversized_keys", "oversized_rows"]


def oversized_error(group: Mapping[str, Any], n_rows: int, spec: SweepSpec) -> str:
    """The ``error`` of a run whose group is too large for a Python worker.

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "f", "group_by": "store", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge"}], "max_group_rows": 1000},
    ...     model="m")
    >>> print(oversized_error({"store": "s1"}, 2_000_000, spec))
    group store='s1' has 2,000,000 rows, more than sweep.max_group_rows (1,000): a Python worker holds a group's rows in memory at once, so it was not trained. Raise sweep.max_group_rows if the executors have the memory (spark.executor.memory, spark.executor.pyspark.memory), or split the group with a finer group_by.
    """
    name = ", ".join(f"{column}={value!r}" for column, value in group.items())
    return (
        f"group {name} has {n_rows:,} rows, more than sweep.max_group_rows "
        f"({spec.max_group_rows:,}): a Python worker holds a group's rows in memory at once, so it "
        "was not trained. Raise sweep.max_group_rows if the executors have the memory "
        "(spark.executor.memory, spark.executor.pyspark.memory), or split the group with a finer "
        "group_by."
    )


def oversized_keys(current: pd.DataFrame, spec: SweepSpec) -> list[str]:
    """The run keys of ``current`` (manifest rows with ``n_rows``) whose group is too large."""
    return sorted(current.loc[current["n_rows"] > spec.max_group_rows, "run_key"])


def oversized_rows(
    to_train: DataFrame, keys: list[str], spec: SweepSpec, schema: str
) -> tuple[DataFrame, DataFrame, int]:
    """Split ``to_train`` on the runs ``keys``: the runs left to train, the ``failed`` result rows
    of the others (shaped as ``schema``, the grouped map's output, built on the driver from their
    manifest rows), and how many failed."""
    spark = to_train.sparkSession
    wanted = local_frame(spark, "`run_key` string", {"run_key": keys})
    manifest = to_train.join(F.broadcast(wanted), "run_key", "left_semi").toPandas()
    results = [
        {
            "status": "failed",
            "error": oversized_error({c: row[c] for c in spec.group_by}, int(row["n_rows"]), spec),
        }
        for row in manifest.to_dict("records")
    ]
    frame = results_frame(manifest, results, spec, pd.Timestamp.now(tz="UTC"))
    frame["mlflow_run_id"] = None
    frame["data_fingerprint"] = manifest["data_fingerprint"].to_numpy()
    left = to_train.join(F.broadcast(wanted), "run_key", "left_anti")
    return left, spark.createDataFrame(frame, schema=schema), len(frame)
