"""Small Spark facts the sweep models need, in one place (and Spark-Connect-safe)."""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.sql.utils import is_remote


def column_kinds(df: DataFrame) -> dict[str, str]:
    """Map each column to the coarse kind :func:`dbt_sweep.spec.check_columns` expects."""
    kinds: dict[str, str] = {}
    for field in df.schema.fields:
        dtype = field.dataType
        if isinstance(dtype, T.BooleanType):
            kinds[field.name] = "boolean"
        elif isinstance(dtype, T.NumericType):
            kinds[field.name] = "numeric"
        elif isinstance(dtype, T.StringType | T.VarcharType | T.CharType):
            kinds[field.name] = "string"
        elif isinstance(dtype, T.TimestampType | T.TimestampNTZType | T.DateType):
            kinds[field.name] = "timestamp"
        else:
            kinds[field.name] = "other"
    return kinds


def column_types(df: DataFrame, columns: list[str]) -> dict[str, str]:
    """Spark SQL type names of ``columns``, in that order (for DDL schema strings)."""
    by_name = {field.name: field.dataType.simpleString() for field in df.schema.fields}
    return {name: by_name[name] for name in columns}


# Tasks per core in a grouped-map stage (training, scoring): enough to balance uneven groups, few
# enough that per-task overhead stays small.
TASKS_PER_CORE = 4


def parallelism(spark: SparkSession) -> int:
    """How many tasks the cluster runs at once (classic: the default parallelism; Connect: the
    shuffle partitions, the best figure a client can read)."""
    if not is_remote():
        return int(spark.sparkContext.defaultParallelism)
    return int(spark.conf.get("spark.sql.shuffle.partitions", "8") or 8)


def dbt_invocation_id() -> str | None:
    """The running dbt invocation's id when the model runs in the dbt process (session method)."""
    try:
        from dbt_common.invocation import get_invocation_id
    except ImportError:  # on a remote runtime (dbt-databricks) dbt is not in the model's process
        return None
    value: Any = get_invocation_id()
    return str(value) if value else None


#: The dbt node whose Python model this thread runs (``unique_id``, ``name``), set by the
#: session method (:func:`dbt_sweep.plugin.helper.run_python_model`). dbt runs models in a thread
#: pool, so a context variable, not a global.
CURRENT_NODE: ContextVar[dict[str, str] | None] = ContextVar("dbt_sweep_current_node", default=None)


def dbt_node(model: str) -> dict[str, str]:
    """What the running dbt process knows about the model: ``unique_id``, ``target``, ``project_dir``.

    Best effort: on a remote runtime (dbt-databricks) dbt is not in the model's process, and the
    values fall back to the model name, ``""`` and the working directory.
    """
    node = CURRENT_NODE.get() or {}
    out = {"unique_id": node.get("unique_id", model), "target": "", "project_dir": os.getcwd()}
    try:
        from dbt.adapters.factory import FACTORY
        from dbt.flags import get_flags
    except ImportError:
        return out
    project_dir = getattr(get_flags(), "PROJECT_DIR", None)
    if project_dir:
        out["project_dir"] = os.path.abspath(str(project_dir))
    for adapter in list(FACTORY.adapters.values()):
        config = getattr(adapter, "config", None)
        target = getattr(config, "target_name", None)
        if target:
            out["target"] = str(target)
            # The running invocation's project: dbt's global flags can still hold an earlier
            # invocation's PROJECT_DIR when dbt is invoked several times in one process
            # (dbtRunner from an orchestrator, or a test suite).
            root = getattr(config, "project_root", None)
            if root:
                out["project_dir"] = os.path.abspath(str(root))
            break
    return out
