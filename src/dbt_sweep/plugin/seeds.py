"""Loads a dbt seed on a ``method: session`` target with Spark's DataFrame API instead of SQL text.

dbt-spark's ``spark__load_csv_rows`` writes one ``insert into ... values (cast(%s as <type>), ...)``
statement per batch: it calls ``adapter.convert_type`` for every cell (a 54k-row seed did not finish in
17 minutes, issue 17) and the session cursor fills the bindings in with ``sql % params``, unescaped, so
a value with an apostrophe is a SQL syntax error. Here every value travels as a string in an Arrow
table, is cast in Spark to the column's type (what the SQL path's ``cast(? as type)`` does), and is
appended to the table dbt created (``create_csv_table``) in one Spark job. Values never pass through SQL
text. macros/seeds/spark__load_csv_rows.sql calls :func:`load_seed` through the adapter method that
:mod:`dbt_sweep.plugin.registration` adds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import DbtRuntimeError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dbt_sweep.plugin.spark_session import get_spark_session

logger = AdapterLogger("dbt-sweep")
_CAST_FAILED = "dbt-sweep: a seed value does not cast to its column's type"


def cell_text(value: Any) -> str | None:
    """Return the text Spark casts to the column's type: one agate cell, exactly, as a string.

    Parameters
    ----------
    value : Any
        A value of dbt's agate table: ``None`` (an empty cell), ``bool``, ``int``, ``Decimal``,
        ``datetime.date``, ``datetime.datetime``, ``datetime.timedelta`` or ``str``.

    Returns
    -------
    str or None
        ``None`` for an empty cell. Decimals never use an exponent (``Decimal('1E+5')`` gives
        ``'100000'``) so that a ``bigint`` cast accepts them; dates and timestamps are ISO 8601,
        which Spark's string casts read; booleans are ``'true'`` / ``'false'``.

    Examples
    --------
    >>> cell_text(Decimal("1E+5")), cell_text(True), cell_text(dt.date(2026, 1, 2))
    ('100000', 'true', '2026-01-02')
    """
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):  # before date: datetime is a date
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def load_seed(
    agate_table: Any,
    *,
    table: str,
    seed: str,
    column_types: Sequence[str],
    server_side_parameters: Mapping[str, Any],
) -> int:
    """Append the rows of ``agate_table`` to ``table`` in one Spark job; return the row count.

    Parameters
    ----------
    agate_table : agate.Table
        The seed as dbt read it (``load_agate_table``): columns named in ``column_types`` config stay
        text, the others are typed by dbt's type tester.
    table : str
        The rendered relation dbt created for the seed (``create_csv_table``), e.g. ``schema.name``.
    seed : str
        The seed's name, for messages.
    column_types : sequence of str
        The Spark SQL type of each column, in the table's order: dbt's inferred type, or the seed's
        ``column_types`` config where it names the column.
    server_side_parameters : mapping
        The profile's ``server_side_parameters``: the session is the one dbt-spark's SQL uses.

    Returns
    -------
    int
        The number of rows appended.

    Raises
    ------
    DbtRuntimeError
        When a value cannot be cast to its column's type (whatever ``spark.sql.ansi.enabled`` says:
        the SQL path turns such a value into NULL silently when ANSI mode is off).
    """
    names = [str(name) for name in agate_table.column_names]
    if len(column_types) != len(names):
        raise DbtRuntimeError(
            f"Seed '{seed}' has {len(names)} columns but {len(column_types)} column types were "
            "given; this is a bug in macros/seeds/spark__load_csv_rows.sql."
        )
    started = time.perf_counter()
    # Positional names: seed column names may hold anything a CSV header can (spaces, dots,
    # backticks); the insert below matches the table's columns by position or by the seed's names.
    columns = {
        f"c{index}": pa.array([cell_text(row[index]) for row in agate_table.rows], type=pa.string())
        for index in range(len(names))
    }
    spark = get_spark_session(server_side_parameters)
    # A pyarrow.Table goes to Spark through Arrow whatever spark.sql.execution.arrow.* says.
    texts = spark.createDataFrame(pa.table(columns))
    typed = texts.select(
        *[
            _strict_cast(texts[f"c{index}"], kind).alias(f"c{index}")
            for index, kind in enumerate(column_types)
        ]
    )
    try:
        _in_table_order(spark, typed, table=table, names=names).write.insertInto(table)
    except Exception as exc:  # pyspark raises several unrelated classes; all end the seed here
        # Only now look for the value that failed (a second pass over the rows), to name it.
        _check_casts(texts, names=names, column_types=column_types, seed=seed)
        raise DbtRuntimeError(f"Seed '{seed}' could not be appended to {table}: {exc}") from exc
    rows = len(agate_table.rows)
    logger.debug(
        f"Seed '{seed}': {rows} rows appended to {table} with Spark's DataFrame API in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return rows


def _strict_cast(text: Column, kind: str) -> Column:
    """``cast(text as kind)`` that fails on a value it cannot cast, whatever ``spark.sql.ansi.enabled``
    says (with ANSI mode off, dbt-spark's ``cast(? as type)`` turns such a value into NULL silently)."""
    typed = text.try_cast(kind)
    return F.when(text.isNotNull() & typed.isNull(), F.raise_error(F.lit(_CAST_FAILED))).otherwise(
        typed
    )


def _check_casts(
    texts: DataFrame, *, names: Sequence[str], column_types: Sequence[str], seed: str
) -> None:
    """Fail, naming the column, its type and an example value, when a value does not cast.

    One aggregation over the (local) rows: per column the count of values whose ``try_cast`` is
    NULL, and the smallest such value. Run only after the insert failed, so a good seed costs one
    Spark job.
    """
    checks = []
    for index, kind in enumerate(column_types):
        bad = f"(c{index} is not null and try_cast(c{index} as {kind}) is null)"
        checks += [
            f"count_if{bad} as n{index}",
            f"min(case when {bad} then c{index} end) as e{index}",
        ]
    result = texts.selectExpr(*checks).collect()[0]
    problems = [
        f"The '{name}' column of seed '{seed}' must hold values of type {kind}. "
        f"Got {result[f'e{index}']!r} in {result[f'n{index}']} row(s)"
        for index, (name, kind) in enumerate(zip(names, column_types, strict=True))
        if result[f"n{index}"]
    ]
    if problems:
        raise DbtRuntimeError(
            "; ".join(problems) + ". Fix the values, or set the column's type in the seed's "
            "'column_types' config (e.g. string)."
        )


def _in_table_order(
    spark: SparkSession, typed: DataFrame, *, table: str, names: Sequence[str]
) -> DataFrame:
    """Order the columns as the table stores them; ``insertInto`` matches by position.

    ``create table ... partitioned by (p)`` moves partition columns to the end of a datasource
    table, while the seed keeps the CSV's order (dbt-spark's ``insert into ... values`` has the
    same positional mismatch).
    """
    positions = {name.lower(): index for index, name in enumerate(names)}
    stored = [column.lower() for column in spark.table(table).columns]
    if sorted(stored) != sorted(positions) or len(positions) != len(names):
        return typed  # no one-to-one match by name: leave the order to Spark's positional insert
    return typed.select(*[f"c{positions[column]}" for column in stored])
