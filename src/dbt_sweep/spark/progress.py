"""Progress of a running ``sweep_runs`` in dbt's log: units done / total, runs failed, elapsed, ETA.

Counts come from two Spark accumulators the training function adds to once per work unit; Spark
merges them on the driver as tasks finish, so reading them costs training nothing. A daemon thread
logs them every ``interval`` seconds while the model's jobs run. Classic Spark only: Spark Connect
has no accumulators, and there the build shows no progress lines.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.utils import is_remote

from dbt_sweep.log import get_logger

DEFAULT_INTERVAL = 10.0


@dataclass
class Counters:
    """Accumulators the training function adds to (picklable into the Spark closure)."""

    units_done: Any = None
    runs_failed: Any = None

    def add(self, *, units: int, failed: int) -> None:
        if self.units_done is not None:
            self.units_done.add(units)
            self.runs_failed.add(failed)


@dataclass
class ProgressMonitor:
    """Logs progress of one model's training stage until every unit is done or its jobs stop."""

    spark: SparkSession
    model: str
    total_units: int
    total_runs: int
    interval: float = DEFAULT_INTERVAL
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        self._logger = get_logger()
        self._group = None
        if not is_remote():
            context = self.spark.sparkContext
            self.counters = Counters(context.accumulator(0), context.accumulator(0))
            self._group = context.getLocalProperty("spark.jobGroup.id")

    def start(self) -> None:
        if self.counters.units_done is None:
            return
        threading.Thread(
            target=self._watch, name=f"dbt-sweep-progress-{self.model}", daemon=True
        ).start()

    def line(self, elapsed: float) -> str:
        done = int(self.counters.units_done.value)
        failed = int(self.counters.runs_failed.value)
        eta = f"{elapsed / done * (self.total_units - done):.0f} s" if done else "unknown"
        return (
            f"{self.model}: {done}/{self.total_units} work units trained "
            f"({self.total_runs} runs), {failed} runs failed so far, "
            f"elapsed {elapsed:.0f} s, ETA {eta}"
        )

    def _watch(self) -> None:
        started = time.monotonic()
        tracker = self.spark.sparkContext.statusTracker()
        seen_job = False
        while int(self.counters.units_done.value) < self.total_units:
            time.sleep(self.interval)
            jobs = tracker.getJobIdsForGroup(self._group) if self._group else []
            active = [
                j for j in jobs if (info := tracker.getJobInfo(j)) and info.status == "RUNNING"
            ]
            seen_job = seen_job or bool(jobs)
            if seen_job and not active:
                return  # the model's jobs ended (done, failed or cancelled)
            if active:
                self._logger.info(self.line(time.monotonic() - started))
