"""Spark jobs and stages of a run, from Spark's event log (``spark.eventLog.enabled``).

For each job group (dbt-sweep tags a model's jobs ``dbt-<unique_id>``; the plain script uses ``train``):
its jobs with wall seconds, and each stage's task count, seconds and whether it runs Python
(``FlatMapCoGroupsInPandas`` / ``FlatMapGroupsInPandas``: the training stage).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_PYTHON_OPERATORS = (
    "FlatMapCoGroupsInPandas",
    "FlatMapGroupsInPandas",
    "ArrowEvalPython",
    "MapInPandas",
)


def _stage(info: dict[str, Any]) -> dict[str, Any]:
    scopes = " ".join(
        str(rdd.get("Scope", "")) + " " + str(rdd.get("Name", ""))
        for rdd in info.get("RDD Info", [])
    )
    start, end = info.get("Submission Time"), info.get("Completion Time")
    return {
        "stage": info["Stage ID"],
        "tasks": info["Number of Tasks"],
        "seconds": round((end - start) / 1000, 3) if start and end else None,
        "python": any(op in scopes for op in _PYTHON_OPERATORS),
        "skipped": start is None,
    }


def logs(directory: Path) -> list[Path]:
    """The event log files in ``directory`` (one per Spark application)."""
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus"))
    )


def summary(directory: Path, *, skip: list[Path] = ()) -> dict[str, list[dict[str, Any]]]:
    """Jobs per job group, with their stages, from the event log files in ``directory`` but
    ``skip`` (those of earlier builds)."""
    jobs: dict[int, dict[str, Any]] = {}
    stages: dict[int, dict[str, Any]] = {}
    for path in [p for p in logs(directory) if p not in set(skip)]:
        for line in path.read_text().splitlines():
            event = json.loads(line)
            kind = event.get("Event")
            if kind == "SparkListenerJobStart":
                group = (event.get("Properties") or {}).get("spark.jobGroup.id") or "(none)"
                jobs[event["Job ID"]] = {
                    "group": group,
                    "start": event["Submission Time"],
                    "stages": event["Stage IDs"],
                }
            elif kind == "SparkListenerJobEnd" and event["Job ID"] in jobs:
                jobs[event["Job ID"]]["end"] = event["Completion Time"]
            elif kind == "SparkListenerStageCompleted":
                stages[event["Stage Info"]["Stage ID"]] = _stage(event["Stage Info"])
    out: dict[str, list[dict[str, Any]]] = {}
    for job_id, job in sorted(jobs.items()):
        ran = [stages[s] for s in job["stages"] if s in stages and not stages[s]["skipped"]]
        seconds = round((job["end"] - job["start"]) / 1000, 3) if "end" in job else None
        out.setdefault(job["group"], []).append({"job": job_id, "seconds": seconds, "stages": ran})
    return out


def training_stage(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The longest Python stage among ``jobs`` (the grouped-map training stage)."""
    python = [s for job in jobs for s in job["stages"] if s["python"] and s["seconds"] is not None]
    return max(python, key=lambda s: s["seconds"]) if python else None
