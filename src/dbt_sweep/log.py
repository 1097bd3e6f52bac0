"""One logger for the package: dbt's AdapterLogger inside a dbt process (so messages show in dbt's
output and log file), the standard library's elsewhere (Spark workers, notebooks)."""

from __future__ import annotations

import logging
from typing import Any


def get_logger() -> Any:
    try:
        from dbt.adapters.events.logging import AdapterLogger
    except ImportError:
        return logging.getLogger("dbt_sweep")
    return AdapterLogger("dbt-sweep")
