"""The ``session`` Python submission method: dbt Python models run in the dbt process on the same
SparkSession as dbt-spark's ``method: session`` SQL (dbt-spark itself runs Python models only through
Databricks APIs, dbt-labs/dbt-spark#415)."""

from __future__ import annotations

from dbt_sweep.plugin.registration import SESSION_METHOD, register_session_method

__all__ = ["SESSION_METHOD", "register_session_method"]
