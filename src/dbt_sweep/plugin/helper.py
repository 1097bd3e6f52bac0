"""``SessionPythonJobHelper``: dbt-spark's submission-helper interface for the session method."""

from __future__ import annotations

import re
import time
from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import DbtRuntimeError

from dbt_sweep.plugin.node import CURRENT_NODE
from dbt_sweep.plugin.python_job import run_compiled_code, wrap_failure
from dbt_sweep.plugin.spark_session import get_spark_session, model_session, tagged_jobs
from dbt_sweep.plugin.workers import may_track, start_warm_workers

logger = AdapterLogger("dbt-sweep")


class SessionPythonJobHelper(PythonJobHelper):
    """Runs a dbt Python model in the dbt process, on the profile's SparkSession.

    Named like dbt-spark's ``job_cluster`` / ``all_purpose_cluster`` helpers; registered under the
    key ``"session"`` (see :mod:`dbt_sweep.plugin.registration`).
    """

    def __init__(self, parsed_model: dict[str, Any], credentials: Any) -> None:
        # PythonJobHelper.__init__ only raises NotImplementedError: deliberately not called.
        self.parsed_model = parsed_model
        self.credentials = credentials
        self.model_name: str = parsed_model["alias"]
        self.timeout = _timeout(parsed_model["config"].get("timeout"), model=self.model_name)

    def submit(self, compiled_code: str) -> None:
        run_python_model(
            self.parsed_model,
            compiled_code,
            server_side_parameters=self.credentials.server_side_parameters,
            timeout=self.timeout,
        )


def run_python_model(
    parsed_model: dict[str, Any],
    compiled_code: str,
    *,
    server_side_parameters: dict[str, Any],
    timeout: float | None = None,
) -> None:
    """Run one compiled Python model on the shared SparkSession; raise one DbtRuntimeError on failure."""
    name = parsed_model["alias"]
    unique_id = parsed_model.get("unique_id", name)
    filename = parsed_model.get("original_file_path") or f"{name}.py"
    shared = get_spark_session(server_side_parameters)
    # once per context: the daemon starts while this model's driver works
    start_warm_workers(shared, tracking=may_track(parsed_model["config"]))
    spark = model_session(
        shared,
        model=name,
        server_side_parameters=server_side_parameters,
        spark_conf=parsed_model["config"].get("spark_conf"),
    )
    tag = "dbt-" + re.sub(r"[^A-Za-z0-9_.-]", "_", unique_id)
    started = time.perf_counter()
    node = CURRENT_NODE.set({"unique_id": unique_id, "name": name})  # read by dbt_sweep.spark.runs
    with tagged_jobs(spark, tag=tag, description=f"dbt model {unique_id}", timeout=timeout) as jobs:
        try:
            run_compiled_code(
                compiled_code,
                raw_code=parsed_model.get("raw_code", ""),
                filename=filename,
                module_name=f"dbt_model_{name}",
                spark=spark,
            )
        except Exception as exc:
            if jobs["timed_out"]:
                raise DbtRuntimeError(
                    f"Python model '{name}' timed out after {timeout:g} s (config 'timeout'); "
                    f"its Spark jobs (tag '{tag}') were cancelled."
                ) from None
            raise wrap_failure(exc, model=name, filename=filename) from None
        finally:
            CURRENT_NODE.reset(node)
    logger.debug(f"Python model '{name}' ran in {time.perf_counter() - started:.2f} s")


def _timeout(value: Any, *, model: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DbtRuntimeError(
            f"The 'timeout' config of model '{model}' must be a number of seconds greater than 0. "
            f"Got {value!r} instead."
        )
    return float(value)
