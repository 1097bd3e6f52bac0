"""dbt-sweep as a dbt package: integration_tests/, a user's project, built as a user would build it.

The project is copied to a temporary folder with its `packages.yml` pointing at this repository
by absolute path, and its profile is `ci/sample.profiles.yml` verbatim (the `local` target, no
file of this repository), rooted in a temporary SWEEP_SPARK_DIR. `dbt deps`, `dbt ls` and
`dbt build` run as subprocesses, as in a user's shell; the build runs once for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from projects import REPO

pytestmark = pytest.mark.integration

DBT = str(Path(sys.executable).with_name("dbt"))
PROJECT = "sweep_integration_tests"
SCHEMA = "sweep_integration_tests"  # ci/sample.profiles.yml's
TIMEOUT = 1200  # seconds for one dbt command (2 shared cores)


def _env(root: Path) -> dict[str, str]:
    """This process's environment with the profile and the Spark folder of ``root``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "PYSPARK_PYTHON", "SPARK_HOME",
                "SPARK_MASTER_URL", "MLFLOW_TRACKING_URI")
    }  # fmt: skip
    env.update(
        DBT_PROFILES_DIR=str(root / "profiles"),
        SWEEP_SPARK_DIR=str(root / "spark"),
        SWEEP_DRIVER_MEMORY="1g",
        SPARK_LOCAL_IP="127.0.0.1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


class Project:
    """The copied project, its environment and the dbt commands run in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "integration_tests"
        shutil.copytree(
            REPO / "integration_tests",
            self.path,
            ignore=shutil.ignore_patterns(
                "target", "dbt_packages", "logs", ".spark", "package-lock.yml"
            ),
        )
        (self.path / "packages.yml").write_text(
            yaml.safe_dump({"packages": [{"local": str(REPO)}]}, sort_keys=False)
        )
        (root / "profiles").mkdir()
        shutil.copy2(self.path / "ci" / "sample.profiles.yml", root / "profiles" / "profiles.yml")
        self.env = _env(root)

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DBT, *args, "--project-dir", str(self.path)],
            cwd=self.path,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
            check=False,
        )

    def artifact(self, name: str) -> dict[str, Any]:
        return json.loads((self.path / "target" / name).read_text())

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / "spark" / "warehouse" / f"{SCHEMA}.db" / name)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project(tmp_path_factory.mktemp("package"))
    deps = project.dbt("deps")
    assert deps.returncode == 0, deps.stdout
    return project


@pytest.fixture(scope="module")
def listed(project: Project) -> list[str]:
    """`dbt ls` of every resource type, one unique name per line."""
    result = project.dbt("ls", "--resource-type", "all", "--output", "json",
                         "--output-keys", "unique_id", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stdout
    return [
        json.loads(line)["unique_id"] for line in result.stdout.splitlines() if line.startswith("{")
    ]


@pytest.fixture(scope="module")
def build(project: Project) -> subprocess.CompletedProcess[str]:
    return project.dbt("build")


def test_the_package_brings_no_demo_node(listed: list[str]) -> None:
    assert listed, "dbt ls listed nothing"
    assert [name for name in listed if name.split(".")[1] != PROJECT] == []
    for demo in (
        "sweep_runs",
        "sweep_manifest",
        "best_models",
        "feat_demo_regression",
        "demo_regression",
    ):
        assert not [name for name in listed if name.split(".")[-1] == demo], demo
    assert f"model.{PROJECT}.sales_runs" in listed


def test_build_is_green(project: Project, build: subprocess.CompletedProcess[str]) -> None:
    assert build.returncode == 0, build.stdout[-6000:]
    results = project.artifact("run_results.json")["results"]
    assert {r["status"] for r in results} <= {"success", "pass"}, [
        (r["unique_id"], r["status"], r["message"])
        for r in results
        if r["status"] not in ("success", "pass")
    ]
    assert len(results) == 20  # 1 seed, 4 models, 15 data tests


def test_best_models_come_from_the_package_macro(project: Project, build) -> None:
    manifest = project.artifact("manifest.json")
    best = manifest["nodes"][f"model.{PROJECT}.sales_best_models"]
    assert best["depends_on"]["macros"] == ["macro.sweep.sweep_best_models"]
    runs = project.table("sales_runs")
    best_models = project.table("sales_best_models")
    assert sorted(best_models["store"]) == ["s1", "s2", "s3"]
    assert set(runs["status"]) == {"ok"}
    assert len(runs) == 3 * 3  # stores x (linear_regression + ridge's two grid points)
    winners = runs.sort_values(["primary_metric", "run_key"]).groupby("store").head(1)
    assert dict(zip(best_models["store"], best_models["run_key"], strict=True)) == dict(
        zip(winners["store"], winners["run_key"], strict=True)
    )


@pytest.mark.parametrize(
    "gate",
    ["sweep_failure_rate", "one_best_model_per_group", "metric_within_range",
     "unique_combination_of_columns", "row_count_equals"],
)  # fmt: skip
def test_the_package_gates_run_and_pass(project: Project, build, gate: str) -> None:
    manifest = project.artifact("manifest.json")
    tests = {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "test"
        and node["test_metadata"]["name"] == gate
        and node["test_metadata"]["namespace"] == "sweep"
    }
    assert tests, f"no sweep.{gate} test in the project"
    for node in tests.values():
        assert f"macro.sweep.test_{gate}" in node["depends_on"]["macros"]
    statuses = {
        r["unique_id"]: r["status"] for r in project.artifact("run_results.json")["results"]
    }
    assert {statuses[unique_id] for unique_id in tests} == {"pass"}


def test_seeds_load_through_the_package(project: Project, build) -> None:
    """The root project's `dispatch` config puts the package's spark__load_csv_rows first."""
    compiled = project.path / "target" / "run" / PROJECT / "seeds" / "sales.csv"
    loaded = (
        "120 rows appended to sweep_integration_tests.sales with Spark's DataFrame API (dbt-sweep)"
    )
    assert loaded in compiled.read_text()
    assert len(project.table("sales")) == 120


def test_the_package_materializations_keep_the_table_until_the_new_one_is_complete(
    project: Project, build
) -> None:
    """The root project's wrappers (integration_tests/macros/) take the package's table
    materialization: a rebuild writes the table aside and swaps it in through a backup name."""
    rebuilt = project.dbt("run", "-s", "feat_sales")
    assert rebuilt.returncode == 0, rebuilt.stdout[-4000:]
    log = (project.path / "logs" / "dbt.log").read_text()
    assert "feat_sales__dbt_tmp" in log and "feat_sales__dbt_backup" in log
    assert len(project.table("feat_sales")) == 120
