"""dbt_sweep.plugin.shipping: the zip it ships, and when it ships (no Spark needed)."""

from __future__ import annotations

import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from dbt_sweep.plugin import shipping


def test_package_zip_holds_the_package_and_is_built_once():
    path = shipping.package_zip()
    names = set(zipfile.ZipFile(path).namelist())
    assert {
        "dbt_sweep/__init__.py",
        "dbt_sweep/training/unit.py",
        "dbt_sweep/scoring/predict.py",
        "dbt_sweep/plugin/shipping.py",
    } <= names
    assert not any("__pycache__" in name for name in names)
    assert shipping.package_zip() == path


class _Context:
    def __init__(self, master):
        self.master, self.applicationId, self.added = master, f"app-{master}", []

    def addPyFile(self, path):
        self.added.append(path)


@pytest.mark.parametrize(
    ("mode", "master", "ships"),
    [
        ("auto", "local[2]", False),
        ("auto", "spark://h:7077", True),
        ("always", "local[*]", True),
        ("never", "spark://h:7077", False),
    ],
)
def test_classic_ships_once_per_context_to_non_local_masters(monkeypatch, mode, master, ships):
    monkeypatch.setenv(shipping.ENV_VAR, mode)
    monkeypatch.setattr(shipping, "is_remote", lambda: False)
    monkeypatch.setattr(shipping, "_shipped", set())
    context = _Context(master)
    spark = SimpleNamespace(sparkContext=context)
    assert shipping.ship_package(spark) is ships
    assert shipping.ship_package(spark) is False
    assert len(context.added) == int(ships)


def test_connect_ships_an_artifact_once_per_session(monkeypatch):
    monkeypatch.delenv(shipping.ENV_VAR, raising=False)
    monkeypatch.setattr(shipping, "is_remote", lambda: True)
    monkeypatch.setattr(shipping, "_shipped", set())
    added = []
    spark = SimpleNamespace(session_id="s1", addArtifacts=lambda *p, **kw: added.append((p, kw)))
    assert shipping.ship_package(spark) and not shipping.ship_package(spark)
    assert added == [((str(shipping.package_zip()),), {"pyfile": True})]


def test_a_bad_mode_is_named(monkeypatch):
    monkeypatch.setenv(shipping.ENV_VAR, "sometimes")
    with pytest.raises(
        ValueError, match="DBT_SWEEP_SHIP_PACKAGE must be one of auto, always, never"
    ):
        shipping.ship_package(SimpleNamespace())


def test_threads_that_ship_at_once_add_the_artifact_once(monkeypatch):
    """dbt loads seeds and models in threads; a second addArtifacts of the same zip to one Connect
    session fails on the server (FileAlreadyExistsException), so only one thread may ship."""
    monkeypatch.delenv(shipping.ENV_VAR, raising=False)
    monkeypatch.setattr(shipping, "is_remote", lambda: True)
    monkeypatch.setattr(shipping, "_shipped", set())
    shipping.package_zip()
    added, start = [], threading.Barrier(8)

    def add(*paths, **options):
        time.sleep(0.05)  # a slow upload: the other threads arrive while it is under way
        added.append(paths)

    spark = SimpleNamespace(session_id="s2", addArtifacts=add)

    def ship():
        start.wait()
        return shipping.ship_package(spark)

    with ThreadPoolExecutor(8) as pool:
        shipped = list(pool.map(lambda _: ship(), range(8)))
    assert sorted(shipped) == [False] * 7 + [True]
    assert len(added) == 1
