"""The demo on the `cluster` and `connect` targets of profiles.example.yml, against real services.

A session-scoped fixture starts a standalone cluster (scripts/cluster.sh: master + 2 workers, 1 core
each) and a Spark Connect server (scripts/connect.sh) on free loopback ports, and stops them after,
even on failure. Each target's `dbt build` runs as a subprocess in its own copy of the project, with
the example profile verbatim and its own SWEEP_SPARK_DIR; the three builds (local, cluster, connect)
run at once to keep the file's wall time down.

Shipping is proven with "strict" Python workers: the cluster's executors and the Connect server run a
Python whose sitecustomize refuses to import dbt_sweep from anywhere but a zip on sys.path, so the
builds pass only because dbt-sweep ships its package (and fail without it, see below).

Faults: one worker is killed (SIGKILL) while the cluster trains `sweep_runs`; the sweep must still
have exactly one row per manifest row. A master / Connect server nobody listens on must fail fast
with the URL in the message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from projects import REPO, free_port

pytestmark = pytest.mark.integration

PROJECT_PARTS = ("dbt_project.yml", "models", "python_models", "macros", "seeds")
DBT = str(Path(sys.executable).with_name("dbt"))
SERVICE_TIMEOUT = 300  # seconds for a service script
BUILD_TIMEOUT = 1200  # seconds for one `dbt build` (the three run at once on 2 shared cores)
KILL_DELAY = 8  # seconds into sweep_runs at which a worker is killed
SCHEMA = "sweep"  # profiles.example.yml's
# The local build is the baseline the others are compared with; its data tests already run in
# test_sweep_demo.py, so here it builds tables only (a third less work on a 2-core machine).
BUILD_ARGS = {"local": ["--exclude", "resource_type:test"], "cluster": [], "connect": []}
TABLES = [
    "feat_demo_regression",
    "sweep_manifest",
    "sweep_runs",
    "model_runs",
    "best_models",
    "diagnosis_sweep_manifest",
    "diagnosis_sweep_runs",
    "diagnosis_model_runs",
    "diagnosis_best_models",
    "sweep_predictions",
    "predictions",
]
STRICT_SITECUSTOMIZE = '''\
import importlib.machinery
import sys


class OnlyShippedDbtSweep:
    """Refuse to import dbt_sweep from anywhere but a zip on sys.path (a shipped package)."""

    def find_spec(self, name, path=None, target=None):
        if name != "dbt_sweep":
            return None
        zips = [entry for entry in sys.path if entry.endswith(".zip")]
        spec = importlib.machinery.PathFinder.find_spec(name, zips)
        if spec is None:
            raise ModuleNotFoundError(
                "No module named 'dbt_sweep' (strict test worker: only a shipped zip may provide it)",
                name=name,
            )
        return spec


sys.meta_path.insert(0, OnlyShippedDbtSweep())
'''
STRICT_MESSAGE = "strict test worker: only a shipped zip may provide it"


def _strict_python(folder: Path) -> Path:
    """A Python like this one whose process cannot import dbt_sweep unless a zip provides it."""
    (folder / "site").mkdir(parents=True)
    (folder / "site" / "sitecustomize.py").write_text(STRICT_SITECUSTOMIZE)
    wrapper = folder / "python"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'PYTHONPATH="{folder / "site"}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def _base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "SPARK_REMOTE",
            "SPARK_CONNECT_MODE_ENABLED",
            "PYSPARK_PYTHON",
            "SPARK_HOME",
            "DBT_SWEEP_SHIP_PACKAGE",
            "SPARK_MASTER_URL",
            "SWEEP_SPARK_DIR",
            "DBT_PROFILES_DIR",
        )
    }
    env["PYTHON"] = sys.executable
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@dataclass
class Services:
    local_dir: Path
    master_url: str
    remote_url: str
    strict_python: Path

    @property
    def connect_warehouse(self) -> Path:
        return self.local_dir / "connect" / "warehouse"

    def worker_pid(self, n: int) -> int:
        return int((self.local_dir / "cluster" / f"worker{n}.pid").read_text())

    def master_log(self) -> str:
        return (self.local_dir / "cluster" / "logs" / "master.log").read_text(errors="replace")


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("services")
    strict = _strict_python(root / "strict")
    master_port, connect_port = free_port(), free_port()
    env = {
        **_base_env(),
        "SWEEP_LOCAL_DIR": str(root / "local"),
        "SPARK_MASTER_PORT": str(master_port),
        "SPARK_MASTER_WEBUI_PORT": str(free_port()),
        "SPARK_CONNECT_PORT": str(connect_port),
        "SWEEP_WORKER_MEMORY": "1536m",
        "SPARK_CONNECT_MEMORY": "1g",
        "SWEEP_READY_TIMEOUT": "180",
    }
    scripts = {
        "cluster.sh": env,
        # The Connect server's Python workers are strict: only the shipped artifact gives dbt_sweep.
        "connect.sh": {**env, "PYSPARK_PYTHON": str(strict)},
    }
    starting = {
        name: subprocess.Popen(
            [str(REPO / "scripts" / name), "start"],
            env=script_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name, script_env in scripts.items()
    }
    try:
        failures = []
        for name, process in starting.items():
            try:
                output, _ = process.communicate(timeout=SERVICE_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
            if process.returncode != 0:
                failures.append(
                    f"scripts/{name} start failed (exit {process.returncode}):\n{output}"
                )
        if failures:
            pytest.fail(
                "Could not start the Spark services for the target tests:\n" + "\n".join(failures)
            )
        yield Services(
            local_dir=root / "local",
            master_url=f"spark://127.0.0.1:{master_port}",
            remote_url=f"sc://127.0.0.1:{connect_port}",
            strict_python=strict,
        )
    finally:
        for name, script_env in scripts.items():
            subprocess.run(
                [str(REPO / "scripts" / name), "stop"],
                env=script_env,
                timeout=120,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )


def _project(root: Path) -> Path:
    root.mkdir(parents=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy2(source, root / part)
    shutil.copy2(REPO / "profiles.example.yml", root / "profiles.yml")  # the example, verbatim
    return root


def _target_env(project: Path, target: str, services: Services, **extra: str) -> dict[str, str]:
    env = {
        **_base_env(),
        "DBT_PROFILES_DIR": str(project),
        "SWEEP_SPARK_DIR": str(project / ".spark"),
        "SWEEP_DRIVER_MEMORY": "2g",
    }
    if target == "cluster":
        env["SPARK_MASTER_URL"] = services.master_url
        env["PYSPARK_PYTHON"] = str(services.strict_python)  # the executors' Python is strict
    elif target == "connect":
        env["SPARK_REMOTE"] = services.remote_url
    return {**env, **extra}


def _dbt(project: Path, args: list[str], env: dict[str, str], *, timeout: float = BUILD_TIMEOUT):
    return subprocess.run(
        [DBT, *args, "--project-dir", str(project)],
        cwd=project,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )


@dataclass
class Build:
    target: str
    project: Path
    warehouse: Path
    returncode: int | None = None
    seconds: float = 0.0
    fault: dict = field(default_factory=dict)

    @property
    def log(self) -> str:
        return (self.project / "build.log").read_text(errors="replace")

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.warehouse / f"{SCHEMA}.db" / name)


def _kill_a_worker_mid_sweep(build: Build, services: Services, done: threading.Event) -> None:
    """Once the cluster build starts sweep_runs, SIGKILL worker 2 (its executor follows)."""
    while not done.wait(0.5):
        log = build.log
        if "START python incremental model sweep.sweep_runs" not in log:
            continue
        time.sleep(KILL_DELAY)
        build.fault["sweep_runs_done_before_kill"] = (
            "OK created python incremental model sweep.sweep_runs" in build.log
        )
        pid = services.worker_pid(2)
        os.kill(pid, signal.SIGKILL)
        build.fault["killed_pid"] = pid
        return


@pytest.fixture(scope="module")
def builds(services: Services, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """`dbt build` on local (tables only), cluster and connect at once; a worker dies during the
    cluster's sweep."""
    root = tmp_path_factory.mktemp("targets")
    out: dict[str, Build] = {}
    processes = {}
    for target in ("local", "cluster", "connect"):
        project = _project(root / target)
        warehouse = (
            services.connect_warehouse if target == "connect" else project / ".spark" / "warehouse"
        )
        out[target] = build = Build(target, project, warehouse)
        log = (project / "build.log").open("w")
        started = time.monotonic()
        processes[target] = (
            subprocess.Popen(
                [
                    DBT,
                    "build",
                    "--target",
                    target,
                    "--project-dir",
                    str(project),
                    *BUILD_ARGS[target],
                ],
                cwd=project,
                env=_target_env(project, target, services),
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            started,
            log,
        )
    done = threading.Event()
    killer = threading.Thread(
        target=_kill_a_worker_mid_sweep, args=(out["cluster"], services, done), daemon=True
    )
    killer.start()
    deadline = time.monotonic() + BUILD_TIMEOUT
    try:
        running = dict(processes)
        while running and time.monotonic() < deadline:
            for target, (process, started, log) in list(running.items()):
                if process.poll() is not None:
                    out[target].returncode = process.returncode
                    out[target].seconds = time.monotonic() - started
                    log.close()
                    del running[target]
            time.sleep(0.5)
    finally:
        done.set()
        for process, _, log in processes.values():
            if process.poll() is None:  # timed out (or the test run was interrupted)
                process.kill()
                process.wait()
                log.close()
    for build in out.values():
        print(f"dbt build --target {build.target}: exit {build.returncode}, {build.seconds:.0f} s")
    return out


@pytest.mark.parametrize("target", ["local", "cluster", "connect"])
def test_build_is_green(builds, target):
    build = builds[target]
    assert build.returncode == 0, f"dbt build --target {target} failed:\n{build.log[-6000:]}"
    assert "Completed successfully" in build.log
    assert " ERROR=0 " in build.log
    if target != "local":
        assert "data tests" in build.log  # the quality gates ran too


@pytest.mark.parametrize("target", ["cluster", "connect"])
def test_the_package_was_shipped_to_the_strict_workers(builds, target):
    kind = "classic" if target == "cluster" else "connect"
    assert f"to the Spark Python workers ({kind})" in builds[target].log


@pytest.mark.parametrize("target", ["cluster", "connect"])
def test_same_row_counts_as_local(builds, target):
    assert builds[target].returncode == 0 and builds["local"].returncode == 0
    counts = {
        name: (len(builds["local"].table(name)), len(builds[target].table(name))) for name in TABLES
    }
    assert {name: n for name, (_, n) in counts.items()} == {
        name: n for name, (n, _) in counts.items()
    }


def _winners(best: pd.DataFrame, group: str) -> dict:
    return dict(zip(best[group], best["run_key"], strict=True))


@pytest.mark.parametrize("target", ["cluster", "connect"])
def test_same_best_models_as_local(builds, target):
    assert builds[target].returncode == 0 and builds["local"].returncode == 0
    for table, group in (("best_models", "group_id"), ("diagnosis_best_models", "cohort")):
        local = _winners(builds["local"].table(table), group)
        assert len(local) > 0
        assert _winners(builds[target].table(table), group) == local, table
    for table in ("sweep_runs", "diagnosis_sweep_runs"):
        local = builds["local"].table(table).set_index("run_key")["status"].sort_index()
        other = builds[target].table(table).set_index("run_key")["status"].sort_index()
        pd.testing.assert_series_equal(other, local)


def test_a_worker_killed_mid_sweep_leaves_one_row_per_manifest_row(builds, services):
    build = builds["cluster"]
    assert "killed_pid" in build.fault, "the cluster build never reached sweep_runs"
    assert build.fault["sweep_runs_done_before_kill"] is False, "the worker died after the sweep"
    assert "Removing worker" in services.master_log()
    assert build.returncode == 0
    for runs, manifest in (
        ("sweep_runs", "sweep_manifest"),
        ("diagnosis_sweep_runs", "diagnosis_sweep_manifest"),
    ):
        run_keys = build.table(runs)["run_key"]
        assert run_keys.is_unique
        assert sorted(run_keys) == sorted(build.table(manifest)["run_key"])


@pytest.mark.parametrize("target", ["cluster", "connect"])
def test_without_shipping_the_strict_workers_cannot_import_dbt_sweep(builds, services, target):
    """The control: the same models fail when dbt-sweep does not ship its package."""
    build = builds[target]
    assert build.returncode == 0
    env = _target_env(build.project, target, services, DBT_SWEEP_SHIP_PACKAGE="never")
    result = _dbt(
        build.project, ["run", "--target", target, "-s", "sweep_predictions"], env, timeout=600
    )
    assert result.returncode != 0
    assert STRICT_MESSAGE in result.stdout


@pytest.mark.parametrize(
    ("target", "variable", "url"),
    [
        ("cluster", "SPARK_MASTER_URL", "spark://127.0.0.1:{port}"),
        ("connect", "SPARK_REMOTE", "sc://127.0.0.1:{port}"),
    ],
)
def test_an_unreachable_master_fails_fast_naming_the_url(services, tmp_path, target, variable, url):
    project = _project(tmp_path / "project")
    url = url.format(port=free_port())
    env = _target_env(project, target, services, **{variable: url})
    started = time.monotonic()
    result = _dbt(project, ["run", "--target", target, "-s", "sweep_manifest"], env, timeout=120)
    assert result.returncode != 0
    assert f"{url} is unreachable" in result.stdout, result.stdout[-3000:]
    assert time.monotonic() - started < 60
