"""Adds the ``session`` method to dbt-spark's Python submission helpers and makes it the default for
``method: session`` profiles, so model files never name ``submission_method`` and stay portable to
dbt-databricks."""

from __future__ import annotations

import os
import sys
from typing import Any

from dbt.adapters.events.logging import AdapterLogger

SESSION_METHOD = "session"
# The project's py_write_table macro reads this to fail a Python model plainly when dbt never
# imported this package (e.g. a setuptools import-hook editable install hides it from
# pkgutil.iter_modules) or when patching dbt-spark failed.
REGISTRATION_ENV = "DBT_SWEEP_SESSION_METHOD"
REGISTERED = "registered"

logger = AdapterLogger("dbt-sweep")


class RegistrationError(RuntimeError):
    """dbt-spark no longer has the hooks the session method plugs into."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "dbt-sweep could not register the 'session' Python submission method with dbt-spark: "
            f"{detail}. This dbt-spark version is not supported; install dbt-spark~=1.11.0."
        )


def register_session_method() -> None:
    """Patch ``SparkAdapter`` once; record the outcome in ``DBT_SWEEP_SESSION_METHOD``.

    A failure is logged and recorded rather than raised, so SQL-only builds keep working; Python
    models then fail with the recorded reason (see macros/materializations/py_write_table.sql).
    """
    # Spark's Python workers must run this interpreter: with a bare `python` on PATH, applyInPandas
    # fails with "No module named 'pandas'". Set before dbt's first SQL statement starts the JVM.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        _patch_spark_adapter()
    except Exception as exc:  # any failure here means "not registered", said plainly
        error = exc if isinstance(exc, RegistrationError) else RegistrationError(repr(exc))
        os.environ[REGISTRATION_ENV] = f"failed: {error}"
        logger.warning(str(error))
        return
    os.environ[REGISTRATION_ENV] = REGISTERED


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
    SparkAdapter._dbt_sweep_session_method = True  # type: ignore[attr-defined]
