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

from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote

from dbt_sweep.log import get_logger

__all__ = ["DAEMON_MODULE", "DAEMON_SETTING", "start_warm_workers"]

DAEMON_SETTING = "spark.python.daemon.module"
DAEMON_MODULE = "dbt_sweep.spark.worker_daemon"  # named, not imported: the plugin imports no sweep code

_lock = threading.Lock()
_started: set[str] = set()  # SparkContext application ids


def start_warm_workers(spark: SparkSession) -> bool:
    """Make a local master's Python workers fork from the preloading daemon, and start it now in
    the background (once per SparkContext). Returns whether it was started by this call."""
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
    threading.Thread(
        target=_one_python_task, args=(spark,), name="dbt-sweep-warm-workers", daemon=True
    ).start()
    return True


def _one_python_task(spark: SparkSession) -> None:
    """One task on one slot, through the same Arrow runner as training, so the daemon Spark starts
    for it is the one the training stage forks from (an RDD task would start another)."""
    try:
        spark.sparkContext.setLocalProperty("spark.job.description", "dbt-sweep: start Python workers")
        spark.range(0, 1, 1, numPartitions=1).mapInPandas(lambda frames: frames, "id long").collect()
    except Exception as exc:  # the session stopped, or workers cannot start: the real job says why
        get_logger().debug(f"Python workers were not started ahead of training: {exc}")
