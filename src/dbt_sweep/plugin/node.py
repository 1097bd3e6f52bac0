"""The dbt node a Python model runs for: set by the session method, read by the sweep's entry points
(the build's MLflow run names the node, its target and the project folder).

Imports nothing of dbt at module level: Spark's Python workers never need it.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

__all__ = ["CURRENT_NODE", "dbt_invocation_id", "dbt_node"]


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
