"""The ``session`` Python submission method: dbt Python models run in the dbt process on the same
SparkSession as dbt-spark's ``method: session`` SQL (dbt-spark itself runs Python models only through
Databricks APIs, dbt-labs/dbt-spark#415).

It imports nothing above it. Names resolve lazily, so a Spark worker that only needs
:mod:`dbt_sweep.plugin.node` never imports dbt.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SESSION_METHOD", "register_session_method"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from dbt_sweep.plugin import registration

        return getattr(registration, name)
    raise AttributeError(f"module 'dbt_sweep.plugin' has no attribute {name!r}")
