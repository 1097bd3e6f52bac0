"""The Python worker daemon of a local master: pyspark's own daemon, after importing what the
grouped-map functions import.

Spark starts one daemon per worker environment and forks a Python worker from it for every task
slot. pyspark's daemon imports next to nothing, so each forked worker paid the imports of training
(scikit-learn, skops, pandas, pyarrow, dbt_sweep: ~3 s) on its first task; on W1 the first task on
each core took 6.6 s where every later task took 1.5 s. Imported here once, before any fork, those
modules come to every worker for free (and their pages are shared, copy-on-write).

:mod:`dbt_sweep.plugin.workers` names this module in ``spark.python.daemon.module`` of local
masters; Spark runs it as ``python -m dbt_sweep.spark.worker_daemon``.
"""

from __future__ import annotations

import importlib

__all__ = ["PRELOADED", "preload"]

#: Where the functions Spark ships to its Python workers live (training, scoring).
PRELOADED = ("dbt_sweep.spark.runs", "dbt_sweep.spark.scoring")


def preload() -> list[str]:
    """Import :data:`PRELOADED`; return the modules that failed to import.

    A failure is no reason to refuse to start: a worker that needs the module imports it again and
    reports the real error with the task that needed it.
    """
    failed = []
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


if __name__ == "__main__":
    preload()
    from pyspark import daemon

    daemon.manager()
