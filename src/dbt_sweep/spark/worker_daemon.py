"""The Python worker daemon of a local master: pyspark's own daemon, after importing what the
grouped-map functions import.

Spark starts one daemon per worker environment and forks a Python worker from it for every task
slot. pyspark's daemon imports next to nothing, so each forked worker paid the imports of training
(scikit-learn, skops, pandas, pyarrow, dbt_sweep: ~3 s) on its first task; on W1 the first task on
each core took 6.6 s where every later task took 1.5 s. Imported here once, before any fork, those
modules come to every worker for free (and their pages are shared, copy-on-write).

:mod:`dbt_sweep.plugin.workers` names this module in ``spark.python.daemon.module`` of local
masters; Spark runs it as ``python -m dbt_sweep.spark.worker_daemon``. When the build may track
(the plugin's :data:`~dbt_sweep.plugin.workers.PRELOAD_TRACKING` in the workers' environment), it
also imports MLflow's client and database store and makes the environment files of logged models:
~2.2 s that every worker paid again before its first child run or model.
"""

from __future__ import annotations

import importlib
import os

__all__ = ["PRELOADED", "TRACKING_PRELOADED", "preload"]

#: Where the functions Spark ships to its Python workers live (training, scoring).
PRELOADED = ("dbt_sweep.spark.runs", "dbt_sweep.spark.scoring")
#: What a worker's first child run or logged model imports (tracking on).
TRACKING_PRELOADED = ("mlflow", "mlflow.store.tracking.sqlalchemy_store", "mlflow.models")


def preload(*, tracking: bool = False) -> list[str]:
    """Import :data:`PRELOADED` (and :data:`TRACKING_PRELOADED`, then make the logged models'
    environment files, with ``tracking``); return what failed.

    A failure is no reason to refuse to start: a worker that needs the module imports it again and
    reports the real error with the task that needed it.
    """
    failed = []
    for name in PRELOADED + (TRACKING_PRELOADED if tracking else ()):
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    if tracking:
        try:
            from dbt_sweep.tracking.model_files import environment_files

            environment_files()  # cached for the process: every forked worker inherits it
        except Exception:
            failed.append("dbt_sweep.tracking.model_files.environment_files")
    return failed


if __name__ == "__main__":
    from dbt_sweep.plugin.workers import PRELOAD_TRACKING

    preload(tracking=os.environ.get(PRELOAD_TRACKING) == "1")
    from pyspark import daemon

    daemon.manager()
