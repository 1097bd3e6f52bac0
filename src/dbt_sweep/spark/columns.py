"""Small Spark facts the sweep models need: column kinds and types, and how many tasks run at once
(Spark-Connect-safe); small driver-side tables made without Python workers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import is_remote


def column_kinds(df: DataFrame) -> dict[str, str]:
    """Map each column to the coarse kind :func:`dbt_sweep.spec.check_columns` expects."""
    kinds: dict[str, str] = {}
    for field in df.schema.fields:
        dtype = field.dataType
        if isinstance(dtype, T.BooleanType):
            kinds[field.name] = "boolean"
        elif isinstance(dtype, T.NumericType):
            kinds[field.name] = "numeric"
        elif isinstance(dtype, T.StringType | T.VarcharType | T.CharType):
            kinds[field.name] = "string"
        elif isinstance(dtype, T.TimestampType | T.TimestampNTZType | T.DateType):
            kinds[field.name] = "timestamp"
        else:
            kinds[field.name] = "other"
    return kinds


def column_types(df: DataFrame, columns: list[str]) -> dict[str, str]:
    """Spark SQL type names of ``columns``, in that order (for DDL schema strings)."""
    by_name = {field.name: field.dataType.simpleString() for field in df.schema.fields}
    return {name: by_name[name] for name in columns}


# Tasks per core in a grouped-map stage (training, scoring): enough to balance uneven groups, few
# enough that per-task overhead stays small.
TASKS_PER_CORE = 4


def parallelism(spark: SparkSession) -> int:
    """How many tasks the cluster runs at once (classic: the default parallelism; Connect: the
    shuffle partitions, the best figure a client can read)."""
    if not is_remote():
        return int(spark.sparkContext.defaultParallelism)
    return int(spark.conf.get("spark.sql.shuffle.partitions", "8") or 8)


def local_frame(
    spark: SparkSession, schema: str, columns: Mapping[str, Sequence[Any]] | None = None
) -> DataFrame:
    """A DataFrame of a few driver-side values, sent to Spark as one Arrow table.

    ``createDataFrame`` of a list of rows (an empty one too) goes through a Python RDD: its first
    job in a build started a second Python worker daemon, pyspark's RDD runner, which cost ~3 s of
    every incremental ``sweep_runs`` on a local master. An Arrow table needs no Python worker.

    Parameters
    ----------
    spark : SparkSession
    schema : str
        DDL of the frame.
    columns : mapping of str to sequence, or None
        Column name -> values, in ``schema``'s order; None: no rows.
    """
    names = T.StructType.fromDDL(schema).fieldNames()
    data = (
        {name: [] for name in names}
        if columns is None
        else {k: list(v) for k, v in columns.items()}
    )
    if list(data) != names:
        raise ValueError(f"columns {list(data)} are not the schema's {names}")
    return spark.createDataFrame(pa.table(data), schema=schema)


def decimals_as_double(df: DataFrame, columns: list[str]) -> DataFrame:
    """``df`` with the decimal columns among ``columns`` cast to double.

    Decimal is the usual type of money in a warehouse; through Arrow it arrives in pandas as
    ``decimal.Decimal`` objects, which scikit-learn, numpy and MLflow's JSON do not all take.
    Features and targets are numbers to a model, so they cross as doubles.
    """
    decimal = {f.name for f in df.schema.fields if isinstance(f.dataType, T.DecimalType)}
    wanted = decimal & set(columns)
    if not wanted:
        return df
    return df.select(
        *[
            F.col(f"`{c}`").cast("double").alias(c) if c in wanted else F.col(f"`{c}`")
            for c in df.columns
        ]
    )


def table_name(df: DataFrame, default: str) -> str:
    """The name of the table ``df`` reads (a dbt ref), for messages; ``default`` when unknown.

    A managed table's files live in a folder named after it (``.../<schema>.db/<table>/part-*``,
    partition folders ``col=value`` below it); ``inputFiles`` is public API, on Connect as well.
    """
    try:
        files = df.inputFiles()
    except Exception:  # a DataFrame built in memory, or a source that cannot list its files
        return default
    if not files:
        return default
    parts = [p for p in files[0].rstrip("/").split("/")[:-1] if p and "=" not in p]
    return parts[-1] if parts else default
