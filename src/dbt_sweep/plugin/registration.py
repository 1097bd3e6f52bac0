"""Adds the ``session`` method to dbt-spark's Python submission helpers and makes it the default for
``method: session`` profiles, so model files never name ``submission_method`` and stay portable to
dbt-databricks."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from dbt.adapters.events.logging import AdapterLogger

from dbt_sweep.plugin.spark_log import use_package_log4j2

SESSION_METHOD = "session"
# Exposed to Jinja as `adapter.dbt_sweep_session_method` once registered: the project's
# py_write_table macro fails a Python model plainly when it is missing (dbt never imported this
# package, e.g. a setuptools import-hook editable install hides it from pkgutil.iter_modules, or
# patching dbt-spark failed). An environment variable cannot carry this: dbt snapshots the
# environment for env_var() before it loads plugins.
JINJA_MARKER = "dbt_sweep_session_method"
# Exposed to Jinja as `adapter.dbt_sweep_load_seed(relation, agate_table, column_types)`: the project's
# spark__load_csv_rows macro loads seeds on session targets through it (dbt_sweep.plugin.seeds).
LOAD_SEED_METHOD = "dbt_sweep_load_seed"

logger = AdapterLogger("dbt-sweep")


class RegistrationError(RuntimeError):
    """dbt-spark no longer has the hooks the session method plugs into."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "dbt-sweep could not register the 'session' Python submission method with dbt-spark: "
            f"{detail}. This dbt-spark version is not supported; install dbt-spark~=1.11.0."
        )


def register_session_method() -> None:
    """Patch ``SparkAdapter`` once.

    A failure is logged rather than raised, so SQL-only builds keep working; Python models then fail
    plainly (see macros/materializations/py_write_table.sql).
    """
    # Spark's Python workers must run this interpreter: with a bare `python` on PATH, applyInPandas
    # fails with "No module named 'pandas'". Set before dbt's first SQL statement starts the JVM.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Spark's log: the package's log4j2 configuration, also read when the JVM starts (issue 16).
    use_package_log4j2()
    # pyspark logs every failing query again as a JSON record with the JVM stack (pages per error);
    # dbt already reports the error with its message, so inside dbt these loggers only add noise.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        _patch_spark_adapter()
    except Exception as exc:  # any failure here means "not registered", said plainly
        error = exc if isinstance(exc, RegistrationError) else RegistrationError(repr(exc))
        logger.warning(str(error))


def _patch_spark_adapter() -> None:
    from dbt.adapters.spark.impl import SparkAdapter

    if getattr(SparkAdapter, "_dbt_sweep_session_method", False):
        return
    helpers = SparkAdapter.__dict__.get("python_submission_helpers")
    default = SparkAdapter.__dict__.get("default_python_submission_method")
    for name, attr in (
        ("python_submission_helpers", helpers),
        ("default_python_submission_method", default),
    ):
        if not isinstance(attr, property) or attr.fget is None:
            raise RegistrationError(f"SparkAdapter.{name} is not a property any more")
    assert helpers is not None and default is not None and helpers.fget and default.fget
    helpers_fget, default_fget = helpers.fget, default.fget

    def python_submission_helpers(self: Any) -> dict[str, Any]:
        from dbt_sweep.plugin.helper import SessionPythonJobHelper

        return {**helpers_fget(self), SESSION_METHOD: SessionPythonJobHelper}

    def default_python_submission_method(self: Any) -> str:
        if str(getattr(self.config.credentials, "method", "")) == SESSION_METHOD:
            return SESSION_METHOD
        return default_fget(self)

    SparkAdapter.python_submission_helpers = property(python_submission_helpers)  # type: ignore[method-assign,assignment]
    SparkAdapter.default_python_submission_method = property(default_python_submission_method)  # type: ignore[method-assign,assignment]
    setattr(SparkAdapter, JINJA_MARKER, lambda self: SESSION_METHOD)
    setattr(SparkAdapter, LOAD_SEED_METHOD, _load_seed)
    # dbt's Jinja `adapter` wrapper exposes only the names in `_available_` (dbt.adapters.base.meta).
    SparkAdapter._available_ = frozenset(  # type: ignore[attr-defined]
        {*SparkAdapter._available_, JINJA_MARKER, LOAD_SEED_METHOD}
    )
    SparkAdapter._dbt_sweep_session_method = True  # type: ignore[attr-defined]
    _patch_open()


def _load_seed(self: Any, relation: Any, agate_table: Any, column_types: list[str]) -> int | None:
    """``adapter.dbt_sweep_load_seed``: append a seed's rows with Spark's DataFrame API (issue 17).

    Returns the row count, or None without loading anything when the target is not ``method:
    session`` (Jinja's ``target`` does not carry dbt-spark's ``method``); the macro then falls back
    to dbt-spark's SQL inserts.
    """
    if str(getattr(self.config.credentials, "method", "")) != SESSION_METHOD:
        return None
    from dbt_sweep.plugin.seeds import load_seed  # imports pyspark: only when a seed is loaded

    return load_seed(
        agate_table,
        table=relation.render(),
        seed=relation.identifier,
        column_types=column_types,
        server_side_parameters=self.config.credentials.server_side_parameters or {},
    )


def _patch_open() -> None:
    """Check that a `method: session` profile's Spark master / Connect server answers before dbt
    opens a connection, so a wrong URL fails in seconds with the URL in the message."""
    from dbt.adapters.exceptions.connection import FailedToConnectError
    from dbt.adapters.spark.connections import SparkConnectionManager

    original = SparkConnectionManager.__dict__["open"].__func__

    def open(cls: Any, connection: Any) -> Any:
        creds = connection.credentials
        if str(getattr(creds, "method", "")) == SESSION_METHOD:
            from dbt_sweep.plugin.preflight import SparkUnreachableError, check_reachable

            try:
                check_reachable(creds.server_side_parameters or {})
            except SparkUnreachableError as exc:
                raise FailedToConnectError(str(exc)) from None
        return original(cls, connection)

    SparkConnectionManager.open = classmethod(open)  # type: ignore[method-assign,assignment]
    _patch_cancel(SparkConnectionManager)


def _patch_cancel(manager: Any) -> None:
    """On a ``method: session`` profile, dbt's cancel (a build interrupted with Ctrl-C) also cancels
    the running Python models' Spark jobs; dbt-spark's session connection cannot cancel a query."""
    original = manager.__dict__["cancel"]

    def cancel(self: Any, connection: Any) -> None:
        if str(getattr(connection.credentials, "method", "")) == SESSION_METHOD:
            from dbt_sweep.plugin.spark_session import cancel_running_models

            tags = cancel_running_models()
            if tags:
                logger.info(f"Cancelled the Spark jobs of {', '.join(sorted(tags))}")
        return original(self, connection)

    manager.cancel = cancel
