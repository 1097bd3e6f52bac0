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
        [sys.executable, "-c", _SCRIPT, daemon, tracking],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
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


_LOCAL_FRAME_SCRIPT = textwrap.dedent(
    """
    import json, os
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from dbt_sweep.spark.columns import local_frame

    def daemons():
        found = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    found += b"daemon" in f.read().replace(b"\\0", b" ").split(b"-m ")[-1][:40]
            except OSError:
                pass
        return found

    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.python.daemon.module", "dbt_sweep.spark.worker_daemon").getOrCreate())
    spark.range(0, 1, 1, numPartitions=1).mapInPandas(lambda frames: frames, "id long").collect()
    before = daemons()
    base = spark.range(4).select(F.col("id").cast("string").alias("run_key"), "id")
    keep = local_frame(spark, "`run_key` string, `n` int", {"run_key": ["1", "3"], "n": [1, None]})
    kept = sorted(r.id for r in base.join(F.broadcast(keep), "run_key", "left_semi").collect())
    empty = local_frame(spark, "`run_key` string, `n` int")
    out = {"kept": kept, "types": [f.dataType.simpleString() for f in keep.schema.fields],
           "empty": empty.unionByName(empty).count(), "after_local": daemons() - before}
    spark.createDataFrame([("1",)], schema="`run_key` string").collect()  # a Python RDD
    out["after_list"] = daemons() - before
    try:
        local_frame(spark, "`run_key` string", {"key": ["1"]})
    except ValueError as exc:
        out["error"] = str(exc)
    from dbt_sweep.plugin.spark_session import model_session
    arrow = "spark.sql.execution.arrow.pyspark.enabled"
    out["arrow"] = [
        model_session(spark, model="m", server_side_parameters=profile, spark_conf=None).conf.get(arrow)
        for profile in ({}, {arrow: "false"})
    ]
    print(json.dumps(out))
    """
)


def test_local_frames_start_no_python_worker() -> None:
    """Driver-side key tables go to Spark as Arrow: no second Python worker daemon starts (a list
    of rows starts one, the control), values, types and empty frames as the schema says."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    out = subprocess.run(
        [sys.executable, "-c", _LOCAL_FRAME_SCRIPT], env=env, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["kept"] == [1, 3] and result["types"] == ["string", "int"]
    assert result["empty"] == 0
    assert result["after_local"] <= 0  # (an idle worker may exit meanwhile, never a new one)
    assert result["after_list"] >= 1  # the control: the check sees a new worker
    assert "are not the schema's ['run_key']" in result["error"]
    # a Python model's session converts pandas through Arrow unless the profile says otherwise
    assert result["arrow"] == ["true", "false"]
