"""Python workers of a local master fork from the preloading daemon (a real local Spark, in a child
process so its SparkContext and settings are its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from dbt_sweep.spark.worker_daemon import PRELOADED, TRACKING_PRELOADED, preload

_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from pyspark.sql import SparkSession
    from dbt_sweep.plugin.workers import start_warm_workers

    builder = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
    if sys.argv[1] != "default":
        builder = builder.config("spark.python.daemon.module", sys.argv[1])
    spark = builder.getOrCreate()
    tracking = sys.argv[2] == "tracking"
    started = [start_warm_workers(spark, tracking=tracking), start_warm_workers(spark, tracking=True)]
    for thread in threading.enumerate():
        if thread.name == "dbt-sweep-warm-workers":
            thread.join()

    def loaded(frames):
        import sys as worker_sys
        import pandas as pd
        for _ in frames:
            yield pd.DataFrame({"skops": ["skops.io" in worker_sys.modules],
                                "mlflow": ["mlflow.store.tracking.sqlalchemy_store" in worker_sys.modules]})

    seen = spark.range(0, 2, 1, numPartitions=2).mapInPandas(
        loaded, "skops boolean, mlflow boolean").toPandas()
    print(json.dumps({"started": started, "preloaded": seen["skops"].tolist(),
                      "mlflow": seen["mlflow"].tolist(),
                      "daemon": spark.sparkContext.getConf().get("spark.python.daemon.module")}))
    """
)


def _run(daemon: str, tracking: str = "untracked") -> dict:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, daemon, tracking], env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_preload_imports_what_the_workers_run() -> None:
    assert preload() == []
    assert all(name in sys.modules for name in PRELOADED)
    assert "skops.io" in sys.modules and "sklearn.linear_model" in sys.modules
    assert preload(tracking=True) == []
    assert all(name in sys.modules for name in TRACKING_PRELOADED)


def test_tracking_preload_only_when_asked() -> None:
    """Tracking on: the workers fork with MLflow's store imported; the second call of the context
    (asking for tracking) changes nothing, since its daemon has started."""
    tracked = _run("default", "tracking")
    assert tracked["started"] == [True, False] and tracked["mlflow"] == [True, True]
    untracked = _run("default", "untracked")
    assert untracked["preloaded"] == [True, True] and untracked["mlflow"] == [False, False]


@pytest.mark.parametrize(
    ("daemon", "started", "preloaded"),
    [
        ("default", [True, False], [True, True]),  # set by us, started once per context
        ("pyspark.daemon", [False, False], [False, False]),  # the profile's own: left alone
    ],
)
def test_workers_start_with_training_imported(daemon: str, started: list, preloaded: list) -> None:
    result = _run(daemon)
    assert result["started"] == started
    # every task's worker had skops imported before its function ran, or none did
    assert result["preloaded"] == preloaded
    expected = "dbt_sweep.spark.worker_daemon" if daemon == "default" else daemon
    assert result["daemon"] == expected
