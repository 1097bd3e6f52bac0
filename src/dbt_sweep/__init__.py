"""dbt-sweep: train many scikit-learn models per data group on Spark, declared in YAML, run by dbt.

dbt imports every top-level ``dbt_*`` module at start-up and instantiates the classes listed in its
``plugins`` attribute (dbt/plugins/manager.py); ours registers the ``session`` Python submission
method with dbt-spark. ``plugins`` is resolved lazily, so Spark's Python workers and notebooks that
import this package never import dbt.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    if name == "plugins":
        from dbt_sweep.plugin.dbt_plugin import SessionMethodPlugin

        return [SessionMethodPlugin]
    raise AttributeError(f"module 'dbt_sweep' has no attribute {name!r}")
