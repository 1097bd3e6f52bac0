"""Baseline (a): the plain PySpark script a user writes instead of dbt-sweep.

    spark.read.parquet(data).groupBy("group_id").applyInPandas(train_group, schema).write.parquet(out)

Run in its own process (its own JVM) by ``bench/run.py`` with the local Spark settings of the dbt
profile. Prints one JSON object: ``session_seconds`` (JVM and SparkSession start), ``stage_seconds``
(read, grouped-map training, write: the wall time of the one action, Python worker start-up included,
JVM start excluded) and the task count of each stage of that action.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pyspark import cloudpickle
from pyspark.sql import SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parent))
import baselines  # noqa: E402  (bench/ is not a package)

cloudpickle.register_pickle_by_value(baselines)  # Spark's Python workers cannot import bench/


def _session(conf: dict[str, str]) -> SparkSession:
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _stage_tasks(spark: SparkSession, group: str) -> list[int]:
    tracker = spark.sparkContext.statusTracker()
    tasks = []
    for job in sorted(tracker.getJobIdsForGroup(group)):
        info = tracker.getJobInfo(job)
        for stage in sorted(info.stageIds if info else []):
            stage_info = tracker.getStageInfo(stage)
            if stage_info is not None:
                tasks.append(stage_info.numTasks)
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument(
        "--configs", required=True, type=Path, help="JSON list of [name, path, params]"
    )
    parser.add_argument(
        "--spark-conf", required=True, type=Path, help="JSON object of Spark settings"
    )
    args = parser.parse_args()
    configs = [tuple(c) for c in json.loads(args.configs.read_text())]
    conf = json.loads(args.spark_conf.read_text())

    started = time.perf_counter()
    spark = _session(conf)
    session_seconds = time.perf_counter() - started

    def train(frame):  # noqa: ANN001, ANN202  (pyspark reads the arity)
        return baselines.train_group(
            frame, configs, features=[f"x{i}" for i in range(8)], target="y", group="group_id"
        )

    spark.sparkContext.setJobGroup("train", "plain applyInPandas")
    start = time.perf_counter()
    data = spark.read.parquet(str(args.data))
    result = data.groupBy("group_id").applyInPandas(train, baselines.OUTPUT_DDL)
    result.write.mode("overwrite").parquet(str(args.out))
    stage_seconds = time.perf_counter() - start
    rows = spark.read.parquet(str(args.out)).count()
    print(json.dumps({
        "session_seconds": session_seconds, "stage_seconds": stage_seconds,
        "stage_tasks": _stage_tasks(spark, "train"), "rows": rows,
        "adaptive_coalesce": spark.conf.get("spark.sql.adaptive.coalescePartitions.enabled"),
    }))  # fmt: skip
    spark.stop()


if __name__ == "__main__":
    main()
