"""A new user's first sweep: `dbt init`, the package, `python -m dbt_sweep new`, a green `dbt build`.

Issue 16's "Done when", as a user would do it in a shell: `dbt init` makes the project (its example
models deleted), `dbt deps --add-package <this repository> --source local` writes packages.yml and
installs the package, the user writes two files by hand (a seed with three groups and a feature
model), `python -m dbt_sweep new ... --gitignore` writes the sweep, and one `dbt build` builds
everything green. The profile is the `local` target of profiles.example.yml under the project's
profile name, in a folder outside the project (as ~/.dbt/ would be); the embedded Spark warehouse
and the MLflow store are the defaults, inside the project, which the written .gitignore keeps out
of git. No file of this repository is copied.
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

from projects import REPO, sales_csv

pytestmark = pytest.mark.integration

DBT = str(Path(sys.executable).with_name("dbt"))
PROJECT = "shop"
TIMEOUT = 1200  # seconds for one command (2 shared cores)

# The feature model the user writes: one row per sale, its group, key, features and target.
FEAT_SALES_SQL = """\
with

sales as (

    select * from {{ ref('sales') }}

),

features as (

    select
        ---------- keys
        store,
        row_id,

        ---------- features
        a,
        b,

        ---------- target
        t

    from sales

)

select * from features
"""

NEW = ["sales", "--source", "feat_sales", "--group-by", "store", "--key", "row_id",
       "--target", "t", "--task", "regression", "--gitignore"]  # fmt: skip


def _env(profiles: Path) -> dict[str, str]:
    """This process's environment, with the profile folder and none of the other targets'
    settings: the warehouse and the MLflow store take their defaults, inside the project."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "PYSPARK_PYTHON", "SPARK_HOME",
                "SPARK_MASTER_URL", "MLFLOW_TRACKING_URI", "SWEEP_SPARK_DIR")
    }  # fmt: skip
    env.update(
        DBT_PROFILES_DIR=str(profiles),
        SWEEP_DRIVER_MEMORY="1g",
        SPARK_LOCAL_IP="127.0.0.1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",  # no network in CI: dbt's event flush times out
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _local_profile() -> dict[str, Any]:
    """profiles.example.yml's `local` target as the profile `shop`, Jinja left for dbt."""
    example = yaml.safe_load((REPO / "profiles.example.yml").read_text())["sweep"]
    return {PROJECT: {"target": "local", "outputs": {"local": example["outputs"]["local"]}}}


class NewUser:
    """A shell in ``root``: the commands a new user runs, and what they leave behind."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / PROJECT
        profiles = root / "profiles"
        profiles.mkdir()
        (profiles / "profiles.yml").write_text(yaml.safe_dump(_local_profile(), sort_keys=False))
        self.schema = _local_profile()[PROJECT]["outputs"]["local"]["schema"]
        self.env = _env(profiles)
        self.log: list[str] = []

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args),
            cwd=cwd or self.path,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
            check=False,
        )
        self.log.append(f"$ {' '.join(args)}\n{result.stdout}")
        return result

    def write(self, name: str, text: str) -> None:
        """A file the user writes by hand."""
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def artifact(self, name: str) -> dict[str, Any]:
        return json.loads((self.path / "target" / name).read_text())

    def table(self, name: str) -> pd.DataFrame:
        """A table of the profile's schema, from the warehouse's parquet files."""
        return pd.read_parquet(self.path / ".spark" / "warehouse" / f"{self.schema}.db" / name)


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> NewUser:
    user = NewUser(tmp_path_factory.mktemp("new_user"))
    steps = [
        (lambda: user.run(DBT, "init", PROJECT, "--skip-profile-setup", cwd=user.root)),
        (lambda: shutil.rmtree(user.path / "models" / "example")),  # dbt init's examples
        (lambda: user.run(DBT, "deps", "--add-package", str(REPO), "--source", "local")),
        # the two files written by hand
        (lambda: user.write("seeds/sales.csv", sales_csv())),
        (lambda: user.write("models/feat_sales.sql", FEAT_SALES_SQL)),
        (lambda: user.run(sys.executable, "-m", "dbt_sweep", "new", *NEW)),
    ]
    for step in steps:
        result = step()
        if isinstance(result, subprocess.CompletedProcess):
            assert result.returncode == 0, "\n".join(user.log)
    return user


@pytest.fixture(scope="module")
def build(user: NewUser) -> subprocess.CompletedProcess[str]:
    return user.run(DBT, "build")


def test_new_prints_what_it_wrote_and_the_next_command(user: NewUser) -> None:
    out = user.log[-1]
    assert "  models/sales/sales_runs.py\n" in out
    assert "  macros/py_write_table.sql\n" in out
    assert "  dbt build -s +sales_best_models\n" in out
    assert "Appended to .gitignore: " in out
    assert "not installed" not in out  # `dbt deps` ran first


def test_the_first_build_is_green(user: NewUser, build) -> None:
    assert build.returncode == 0, build.stdout[-6000:]
    results = user.artifact("run_results.json")["results"]
    assert {r["status"] for r in results} <= {"success", "pass"}, [
        (r["unique_id"], r["status"], r["message"])
        for r in results
        if r["status"] not in ("success", "pass")
    ]
    kinds = [r["unique_id"].split(".")[0] for r in results]
    # the seed; feat_sales and the sweep's manifest, runs, best models and trials; their tests
    assert {kind: kinds.count(kind) for kind in set(kinds)} == {"seed": 1, "model": 5, "test": 18}


def test_the_sweep_trains_every_group_and_picks_a_winner_per_group(user: NewUser, build) -> None:
    manifest, runs = user.table("sales_manifest"), user.table("sales_runs")
    best = user.table("sales_best_models")
    # 3 stores x (linear_regression + random_forest's two max_depth points)
    assert len(manifest) == len(runs) == 9
    assert set(runs["status"]) == {"ok"}
    assert sorted(best["store"]) == ["s1", "s2", "s3"]
    winners = runs.sort_values(["primary_metric", "run_key"]).groupby("store").head(1)
    assert dict(zip(best["store"], best["run_key"], strict=True)) == dict(
        zip(winners["store"], winners["run_key"], strict=True)
    )
    assert best["model"].notna().all()
    assert len(user.table("sales_trials")) == 0  # grid runs have no trials
    assert runs["mlflow_run_id"].notna().all()  # tracking is on, in the project's mlflow.db


def test_the_package_tests_run_through_its_namespace(user: NewUser, build) -> None:
    nodes = user.artifact("manifest.json")["nodes"]
    gates = {
        node["test_metadata"]["name"]
        for node in nodes.values()
        if node["resource_type"] == "test" and node["test_metadata"].get("namespace") == "sweep"
    }
    assert gates == {"unique_combination_of_columns", "row_count_equals", "sweep_failure_rate",
                     "one_best_model_per_group"}  # fmt: skip
    best = nodes[f"model.{PROJECT}.sales_best_models"]
    assert best["depends_on"]["macros"] == ["macro.sweep.sweep_best_models"]


def test_the_user_wrote_two_files_and_git_sees_no_build_output(user: NewUser, build) -> None:
    """What `git add -A` would take: dbt init's, dbt deps', new's and the user's two files;
    the .gitignore `new --gitignore` completed keeps out the warehouse, MLflow and dbt output."""
    assert (user.path / ".spark").is_dir() and (user.path / "mlflow.db").is_file()
    assert user.run("git", "init", "-q").returncode == 0
    listed = user.run("git", "ls-files", "--others", "--exclude-standard")
    assert listed.returncode == 0, listed.stdout
    files = set(listed.stdout.split())
    by_dbt = {"README.md", ".gitignore", "dbt_project.yml", "packages.yml", "package-lock.yml",
              "analyses/.gitkeep", "macros/.gitkeep", "seeds/.gitkeep", "snapshots/.gitkeep",
              "tests/.gitkeep"}  # fmt: skip
    by_new = {"macros/py_write_table.sql"} | {
        f"models/sales/{name}"
        for name in ("sales_manifest.py", "sales_runs.py", "sales_best_models.sql",
                     "sales_trials.sql", "_sales__models.yml")
    }  # fmt: skip
    assert files - by_dbt - by_new == {"seeds/sales.csv", "models/feat_sales.sql"}
    assert by_dbt - files <= {"package-lock.yml"}  # as dbt versions have it
    assert by_new <= files
