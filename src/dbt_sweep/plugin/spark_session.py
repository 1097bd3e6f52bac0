"""Where a Python model's Spark code runs: the dbt process's own SparkSession.

dbt-spark's ``method: session`` SQL obtains its session with ``SparkSession.builder`` plus the
profile's ``server_side_parameters`` on every statement; we obtain it the same way so Python and SQL
share one JVM, one catalog and one warehouse. ``SparkSession.getActiveSession()`` is not an option: it
is per thread and returns None in dbt's worker threads.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dbt_common.exceptions import DbtRuntimeError
from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote

from dbt_sweep.plugin.shipping import ship_package

_PYSPARK_DEFAULT_PYTHON = "python3"  # what pyspark uses when PYSPARK_PYTHON is unset
_JOB_GROUP_PROPERTIES = (
    "spark.jobGroup.id",
    "spark.job.description",
    "spark.job.interruptOnCancel",
)


#: Job tag -> how to cancel the Spark jobs of the Python model running under it.
_RUNNING: dict[str, Callable[[], None]] = {}
_RUNNING_LOCK = threading.Lock()


def cancel_running_models() -> list[str]:
    """Cancel the Spark jobs of every Python model running in this process; returns their tags.

    dbt calls its adapter's ``cancel`` for each open connection when a build is interrupted
    (Ctrl-C); dbt-spark's session connection cannot cancel anything, so without this a model's
    training went on after dbt had given up on it.
    """
    with _RUNNING_LOCK:
        running = list(_RUNNING.items())
    for _, interrupt in running:
        try:
            interrupt()
        except Exception:  # the session may already be gone; nothing left to cancel then
            pass
    return [tag for tag, _ in running]


def get_spark_session(server_side_parameters: Mapping[str, Any]) -> SparkSession:
    """Return the session dbt-spark's SQL uses, creating it on first use (the same builder calls)."""
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in server_side_parameters.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    if not is_remote():
        _use_this_interpreter_for_local_workers(spark)
    ship_package(spark)  # executors / Connect workers import dbt_sweep from the shipped zip
    return spark


def _use_this_interpreter_for_local_workers(spark: SparkSession) -> None:
    """Make a local master's Python workers run this interpreter (and so see this environment).

    pyspark fixes the workers' interpreter when the context starts: ``$PYSPARK_PYTHON`` or a bare
    ``python3``, which lacks pandas/pyarrow unless it happens to be this venv's (then ``applyInPandas``
    fails with "No module named 'pandas'"). The plugin sets ``PYSPARK_PYTHON`` at dbt start-up, but a
    context started earlier (by SQL in the same process) keeps ``python3``. On a cluster the workers'
    interpreter is the cluster's to choose, so only local masters are changed.
    """
    context = spark.sparkContext
    if context.master.startswith("local") and context.pythonExec == _PYSPARK_DEFAULT_PYTHON:
        context.pythonExec = sys.executable


#: Settings of every Python model's session unless the profile or the model sets them. Arrow: a
#: pandas frame's ``createDataFrame`` (the sweep's slots and driver-trained results) otherwise goes
#: through a Python RDD, whose first job starts a second, cold Python worker daemon (~3 s).
MODEL_DEFAULTS = {"spark.sql.execution.arrow.pyspark.enabled": "true"}


def model_session(
    spark: SparkSession,
    *,
    model: str,
    server_side_parameters: Mapping[str, Any],
    spark_conf: Mapping[str, Any] | None,
) -> SparkSession:
    """Return the session one Python model runs in, with the model's ``spark_conf`` applied (over
    the profile's settings, over :data:`MODEL_DEFAULTS`).

    dbt-spark re-applies the profile's ``server_side_parameters`` to the shared session before every
    SQL statement, so a model's own ``spark.conf.set`` does not last there. On classic Spark each Python
    model gets ``spark.newSession()``: same SparkContext, catalog and cache, but its own SQL conf and
    temporary views, so per-model settings last for the whole model and one model can never drop or
    shadow another's temporary views. Spark Connect has no ``newSession``; there the settings are
    applied to the shared session.
    """
    session = spark if is_remote() else spark.newSession()
    settings = {**MODEL_DEFAULTS, **server_side_parameters, **(spark_conf or {})}
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
    """Mark every Spark job this thread starts in ``spark`` as the model's; cancel them after
    ``timeout`` seconds.

    Yields a dict whose ``timed_out`` key says whether the timeout fired. Classic Spark: a job group
    (shown in the Spark UI with the description) with ``interruptOnCancel``, so Python workers stuck
    in user code are interrupted too; the session-level ``interruptTag`` does not reach jobs of a
    ``newSession()`` there. Spark Connect: an operation tag, its only mechanism.
    """
    state = {"timed_out": False}
    remote = is_remote()
    if remote:
        spark.addTag(tag)
    else:
        spark.sparkContext.setJobGroup(tag, description, interruptOnCancel=True)

    def cancel() -> None:
        state["timed_out"] = True
        if remote:
            spark.interruptTag(tag)
        else:
            spark.sparkContext.cancelJobGroup(tag)

    timer = threading.Timer(timeout, cancel) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()

    def interrupt() -> None:  # dbt cancels the build (Ctrl-C): stop this model's jobs now
        if remote:
            spark.interruptTag(tag)
        else:
            spark.sparkContext.cancelJobGroup(tag)

    with _RUNNING_LOCK:
        _RUNNING[tag] = interrupt
    try:
        yield state
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(tag, None)
        if timer is not None:
            timer.cancel()
        if remote:
            spark.removeTag(tag)
        else:
            for key in _JOB_GROUP_PROPERTIES:  # what SparkContext.setJobGroup set, for this thread
                spark.sparkContext.setLocalProperty(key, None)  # type: ignore[arg-type]
