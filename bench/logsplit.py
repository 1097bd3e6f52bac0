"""Split a ``dbt build``'s time into start-up, parse, Spark start, metadata queries, models and tests.

Reads dbt's JSON debug log (``--log-format-file json --log-level-file debug``) and
``target/run_results.json``. Every SQL statement dbt-spark sends is a ``SQLQuery`` event followed by
``SQLQueryStatus`` with its elapsed seconds; the first one opens the connection, which builds the
SparkSession (JVM start included) on the local target.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

# dbt-spark's metadata statements, by what they do (SQL starts after dbt's /* {...} */ comment).
_METADATA = [
    ("show databases (list_schemas)", re.compile(r"^\s*show databases", re.I)),
    ("create schema if not exists", re.compile(r"^\s*create schema", re.I)),
    (
        "show table extended ... like '*' (list relations)",
        re.compile(r"^\s*show table extended", re.I),
    ),
    (
        "drop table if exists (before each table model)",
        re.compile(r"^\s*drop (table|view) if exists", re.I),
    ),
    ("describe extended (columns of a relation)", re.compile(r"^\s*describe", re.I)),
    ("show tblproperties", re.compile(r"^\s*show tblproperties", re.I)),
]


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _statement(sql: str) -> str:
    return re.sub(r"^\s*/\*.*?\*/", "", sql, count=1, flags=re.S).strip()


def _kind(sql: str) -> str | None:
    body = _statement(sql)
    for name, pattern in _METADATA:
        if pattern.search(body):
            return name
    return None


def _events(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text().splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def _queries(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each SQL statement with its node, kind and elapsed seconds (pairs SQLQuery with its status)."""
    pending: dict[str, dict[str, Any]] = {}
    out = []
    for event in events:
        name, data = event["info"]["name"], event.get("data", {})
        thread = event["info"].get("thread", "")
        if name == "SQLQuery":
            node = (data.get("node_info") or {}).get("unique_id", "")
            pending[thread] = {"node": node, "conn": data.get("conn_name"), "kind": _kind(data.get("sql", "")),
                               "sql": " ".join(_statement(data.get("sql", "")).split())[:80]}  # fmt: skip
        elif name == "SQLQueryStatus" and thread in pending:
            query = pending.pop(thread)
            query["seconds"] = float(data.get("elapsed", 0.0))
            out.append(query)
    return out


def split(project: Path, *, wall_seconds: float | None = None) -> dict[str, Any]:
    """The time split of the last ``dbt build`` in ``project`` (seconds)."""
    events = _events(project / "logs" / "dbt.log")
    first = {}
    for event in events:
        first.setdefault(event["info"]["name"], _ts(event["info"]["ts"]))
    results = json.loads((project / "target" / "run_results.json").read_text())
    queries = _queries(events)
    spark_start = queries[0]["seconds"] if queries else 0.0
    metadata: dict[str, dict[str, float]] = {}
    for query in queries[1:]:
        if query["kind"]:
            entry = metadata.setdefault(query["kind"], {"count": 0, "seconds": 0.0})
            entry["count"] += 1
            entry["seconds"] = round(entry["seconds"] + query["seconds"], 3)
    in_node_metadata: dict[str, float] = {}
    for query in queries:
        if query["kind"] and query["node"]:
            in_node_metadata[query["node"]] = (
                in_node_metadata.get(query["node"], 0.0) + query["seconds"]
            )
    models, tests = {}, {}
    for node in results["results"]:
        uid = node["unique_id"]
        own = node["execution_time"] - in_node_metadata.get(uid, 0.0)
        (models if uid.startswith("model.") else tests)[
            uid.split(".")[-1] if uid.startswith("model.") else uid.split(".")[2]
        ] = round(own, 3)
    elapsed = float(results.get("elapsed_time") or 0.0)
    out = {
        "dbt_start_and_parse": round(
            (first["FoundStats"] - first["MainReportVersion"]).total_seconds(), 3
        ),
        "spark_start (first query: JVM + session + show databases)": round(spark_start, 3),
        "metadata_queries": metadata,
        "metadata_total": round(sum(v["seconds"] for v in metadata.values()), 3),
        "models (execution minus metadata queries)": models,
        "tests": tests,
        "run_elapsed (dbt's elapsed_time: from connection to end)": round(elapsed, 3),
        "queries": queries,
    }
    if wall_seconds is not None:
        command = (first.get("CommandCompleted") or first["MainReportVersion"]) - first[
            "MainReportVersion"
        ]
        out["process_wall"] = round(wall_seconds, 3)
        out["python_imports_before_first_log_line"] = round(
            wall_seconds - command.total_seconds(), 3
        )
    return out
