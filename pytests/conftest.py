"""Shared fixtures: dbt's test-project fixtures on an embedded Spark (dbt-spark `method: session`).

All in-process dbt runs share one JVM and one Derby metastore in a temporary folder; tests that run
dbt as a subprocess point SWEEP_SPARK_DIR elsewhere, since Derby admits one process at a time.
The files of the test projects (sweep models and their specs, the `sales` seed) are built by
`integration/projects.py`, so that a test module writes only what its project changes.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from dbt_sweep.plugin.spark_log import use_package_log4j2

pytest_plugins = ["dbt.tests.fixtures.project"]

# Spark's log as in a user's build. There dbt loads the plugin, which does this, before the first
# SQL statement starts the JVM; dbt's test fixtures may start Spark (create the schema) before.
use_package_log4j2()

REPO = Path(__file__).resolve().parent.parent


def pytest_report_header(config: pytest.Config) -> list[str]:
    names = ["dbt-core", "dbt-spark", "pyspark", "scikit-learn", "mlflow", "pandas", "skops"]
    return ["versions: " + ", ".join(f"{name} {version(name)}" for name in names)]


def session_target(spark_dir: Path, *, threads: int = 2) -> dict[str, Any]:
    """A `method: session` target like profiles.example.yml's `local`, rooted in ``spark_dir``."""
    return {
        "type": "spark",
        "method": "session",
        "host": "localhost",
        "schema": "sweep_test",
        "threads": threads,
        "server_side_parameters": {
            "spark.master": "local[2, 4]",  # retries a task whose Python worker died, as the profile does
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true"
            ),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}",
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.catalogImplementation": "hive",
        },
    }


@pytest.fixture(scope="session")
def spark_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark")


@pytest.fixture(scope="class")
def dbt_profile_target(spark_dir: Path) -> dict[str, Any]:
    return session_target(spark_dir)


@pytest.fixture(scope="class")
def macros() -> dict[str, str]:
    """Every test project gets the repository's macros, as a user's project would."""
    return {
        str(path.relative_to(REPO / "macros")).replace("/", "__"): path.read_text()
        for path in sorted((REPO / "macros").rglob("*.sql"))
    }
