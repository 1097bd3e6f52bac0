"""Python workers of a local master that start warm, and early.

Spark forks every Python worker from one daemon process; :mod:`dbt_sweep.spark.worker_daemon` is a
daemon that has imported training's modules before it forks, so no worker pays them. The daemon
itself starts with the first Python task, which was the training stage, on its critical path: a
one-task job from a background thread starts it when the first Python model does, while that
model's driver work goes on.

Local masters only: there the workers run this interpreter, which has dbt-sweep installed. A
cluster's executors may not (the package is shipped to tasks, not to daemons); there the setting is
the cluster's to make, and a profile or cluster that names its own daemon module keeps it.
"""

from __future__ import annotations

import threading
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote

from dbt_sweep.log import get_logger

__all__ = ["DAEMON_MODULE", "DAEMON_SETTING", "PRELOAD_TRACKING", "may_track", "start_warm_workers"]

DAEMON_SETTING = "spark.python.daemon.module"
DAEMON_MODULE = (
    "dbt_sweep.spark.worker_daemon"  # named, not imported: the plugin imports no sweep code
)
#: Set to "1" in the Python workers' environment: the daemon also preloads MLflow.
PRELOAD_TRACKING = "DBT_SWEEP_PRELOAD_TRACKING"

_lock = threading.Lock()
_started: set[str] = set()  # SparkContext application ids


def may_track(config: dict[str, Any]) -> bool:
    """Whether a model's dbt config leaves MLflow tracking on: tracking is on by default, so
    anything but ``sweep: {tracking: {enabled: false}}`` (the spec is not parsed here; a
    wrong guess only costs or spares the daemon an import).

    Examples
    --------
    >>> may_track({"sweep": {"tracking": {"enabled": False}}}), may_track({}), may_track({"sweep": {}})
    (False, True, True)
    """
    sweep = config.get("sweep")
    tracking = sweep.get("tracking") if isinstance(sweep, dict) else None
    return not (isinstance(tracking, dict) and tracking.get("enabled") is False)


def start_warm_workers(spark: SparkSession, *, tracking: bool = False) -> bool:
    """Make a local master's Python workers fork from the preloading daemon, and start it now in
    the background (once per SparkContext). Returns whether it was started by this call.

    ``tracking``: the daemon also preloads MLflow (see :func:`may_track`). It goes into the
    environment every Python function of the context carries, before the first one is made: Spark
    keeps one daemon per environment, so the warm-up's daemon stays the one training forks from.
    """
    if is_remote():
        return False
    context = spark.sparkContext
    if not context.master.startswith("local"):
        return False
    with _lock:
        if context.applicationId in _started:
            return False
        _started.add(context.applicationId)
        # The live SparkConf (what SparkEnv reads when it makes the first Python runner), so this
        # holds though SQL started the context first; a daemon module of the profile's stays.
        conf = context._conf  # noqa: SLF001
        conf.setIfMissing(DAEMON_SETTING, DAEMON_MODULE)
        if conf.get(DAEMON_SETTING) != DAEMON_MODULE:
            return False  # the profile's own daemon (pyspark.daemon turns this off): no preload to start early
        if tracking:
            context.environment[PRELOAD_TRACKING] = "1"
    threading.Thread(
        target=_one_python_task, args=(spark,), name="dbt-sweep-warm-workers", daemon=True
    ).start()
    return True


def _one_python_task(spark: SparkSession) -> None:
    """One task on one slot, through the same Arrow runner as training, so the daemon Spark starts
    for it is the one the training stage forks from (an RDD task would start another)."""
    try:
        spark.sparkContext.setLocalProperty(
            "spark.job.description", "dbt-sweep: start Python workers"
        )
        spark.range(0, 1, 1, numPartitions=1).mapInPandas(
            lambda frames: frames, "id long"
        ).collect()
    except Exception as exc:  # the session stopped, or workers cannot start: the real job says why
        get_logger().debug(f"Python workers were not started ahead of training: {exc}")
