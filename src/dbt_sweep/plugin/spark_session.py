"""Where a Python model's Spark code runs: the dbt process's own SparkSession.

dbt-spark's ``method: session`` SQL obtains its session with ``SparkSession.builder`` plus the
profile's ``server_side_parameters`` on every statement; we obtain it the same way so Python and SQL
share one JVM, one catalog and one warehouse. ``SparkSession.getActiveSession()`` is not an option: it
is per thread and returns None in dbt's worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dbt_common.exceptions import DbtRuntimeError
from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote


def get_spark_session(server_side_parameters: Mapping[str, Any]) -> SparkSession:
    """Return the session dbt-spark's SQL uses, creating it on first use (the same builder calls)."""
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in server_side_parameters.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


def model_session(
    spark: SparkSession,
    *,
    model: str,
    server_side_parameters: Mapping[str, Any],
    spark_conf: Mapping[str, Any] | None,
) -> SparkSession:
    """Return the session one Python model runs in, with the model's ``spark_conf`` applied.

    dbt-spark re-applies the profile's ``server_side_parameters`` to the shared session before every
    SQL statement, so a model's own ``spark.conf.set`` does not last there. On classic Spark each Python
    model gets ``spark.newSession()``: same SparkContext, catalog and cache, but its own SQL conf and
    temporary views, so per-model settings last for the whole model and one model can never drop or
    shadow another's temporary views. Spark Connect has no ``newSession``; there the settings are
    applied to the shared session.
    """
    session = spark if is_remote() else spark.newSession()
    settings = {**server_side_parameters, **(spark_conf or {})}
    for key, value in settings.items():
        if not session.conf.isModifiable(key):
            if key in (spark_conf or {}):
                raise DbtRuntimeError(
                    f"The 'spark_conf.{key}' config of model '{model}' is a static Spark setting and "
                    "cannot be changed per model. Set it in the profile's server_side_parameters."
                )
            continue  # static settings of the profile already shaped the shared context
        session.conf.set(key, str(value))
    return session


@contextmanager
def tagged_jobs(
    spark: SparkSession, *, tag: str, description: str, timeout: float | None
) -> Iterator[dict[str, bool]]:
    """Tag every Spark job started by this thread in ``spark`` and cancel them after ``timeout`` s.

    Yields a dict whose ``timed_out`` key says whether the timeout fired. Tags work on classic Spark
    and Spark Connect; the job description (shown in the Spark UI) exists only on classic Spark.
    """
    state = {"timed_out": False}
    spark.addTag(tag)
    if not is_remote():
        spark.sparkContext.setJobDescription(description)

    def cancel() -> None:
        state["timed_out"] = True
        spark.interruptTag(tag)

    timer = threading.Timer(timeout, cancel) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield state
    finally:
        if timer is not None:
            timer.cancel()
        spark.removeTag(tag)
        if not is_remote():
            spark.sparkContext.setJobDescription(None)  # type: ignore[arg-type]
