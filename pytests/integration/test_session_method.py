"""The session submission method, end to end: real dbt runs on the embedded Spark."""

from __future__ import annotations

import pkgutil
import time

import pytest
from dbt.plugins.manager import PluginManager
from dbt.tests.util import run_dbt, write_file

pytestmark = pytest.mark.integration

FAILING_MODEL = """\
def helper(value):
    return 1 / value


def model(dbt, session):
    return helper(0)
"""

# Two models that run at the same time (threads: 2) and use a temporary view of the same name:
# each must see its own rows, and their run windows must overlap.
CONCURRENT_MODEL = """\
import time


def model(dbt, session):
    session.range({n}).createOrReplaceTempView("scratch")
    started = time.time()
    time.sleep(4)
    rows = session.sql("select count(*) as n from scratch").collect()[0]["n"]
    return session.createDataFrame(
        [(rows, started, time.time())], "rows long, started double, finished double"
    )
"""

EVENTS_SQL = """\
select 1 as id, 'a' as payload, date'2026-01-01' as day
union all select 2, 'a', date'2026-01-02'
"""

# Incremental by partition: on incremental runs only the newest day is recomputed and overwritten.
PARTITIONED_MODEL = """\
def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="insert_overwrite",
        partition_by=["day"],
    )
    events = dbt.ref("events")
    if dbt.is_incremental:
        events = events.where("day >= date'2026-01-02'")
    return events
"""

SPARK_CONF_MODEL = """\
def model(dbt, session):
    dbt.config(spark_conf={"spark.sql.shuffle.partitions": "3"})
    numbers = session.range(10)
    numbers.groupBy((numbers.id % 2).alias("k")).count().collect()
    value = session.conf.get("spark.sql.shuffle.partitions")
    return session.createDataFrame([(value,)], "shuffle_partitions string")
"""

DEFAULT_CONF_MODEL = """\
def model(dbt, session):
    value = session.conf.get("spark.sql.shuffle.partitions")
    return session.createDataFrame([(value,)], "shuffle_partitions string")
"""

SLOW_MODEL = """\
import time


def model(dbt, session):
    dbt.config(timeout=3)

    def sleepy(batches):
        for batch in batches:
            time.sleep(120)
            yield batch

    return session.range(2).mapInPandas(sleepy, "id long")
"""


class TestFailingModelTraceback:
    @pytest.fixture(scope="class")
    def models(self):
        return {"failing.py": FAILING_MODEL}

    def test_traceback_names_model_file_and_line(self, project):
        results = run_dbt(["run"], expect_pass=False)
        message = results[0].message
        assert "Python model 'failing' failed:\n  Traceback (most recent call last):" in message
        assert 'File "models/failing.py", line 6, in model' in message
        assert "    return helper(0)" in message
        assert 'File "models/failing.py", line 2, in helper' in message
        assert "ZeroDivisionError: division by zero" in message
        assert "dbt_sweep/plugin" not in message  # the plugin's own frames are not shown


class TestConcurrentModels:
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "first.py": CONCURRENT_MODEL.format(n=3),
            "second.py": CONCURRENT_MODEL.format(n=5),
        }

    def test_two_python_models_run_at_once_with_their_own_temp_views(self, project):
        run_dbt(["run", "--threads", "2"])
        first = project.run_sql(f"select * from {project.test_schema}.first", fetch="one")
        second = project.run_sql(f"select * from {project.test_schema}.second", fetch="one")
        assert (first[0], second[0]) == (3, 5)
        assert max(first[1], second[1]) < min(first[2], second[2]), "models did not overlap"


class TestInsertOverwritePartitions:
    @pytest.fixture(scope="class")
    def models(self):
        return {"events.sql": EVENTS_SQL, "daily.py": PARTITIONED_MODEL}

    def test_second_run_replaces_only_the_changed_partition(self, project):
        run_dbt(["run"])
        schema = project.test_schema
        partitions = project.run_sql(f"show partitions {schema}.daily", fetch="all")
        assert sorted(row[0] for row in partitions) == ["day=2026-01-01", "day=2026-01-02"]

        changed = (
            EVENTS_SQL.replace("2, 'a'", "2, 'b'") + "union all select 3, 'b', date'2026-01-02'\n"
        )
        # Day 1 changes in the source too, but the incremental filter leaves it alone.
        changed = changed.replace("1 as id, 'a'", "1 as id, 'z'")
        write_file(changed, project.project_root, "models", "events.sql")
        run_dbt(["run"])

        rows = project.run_sql(
            f"select id, payload, cast(day as string) from {schema}.daily order by id", fetch="all"
        )
        assert [tuple(row) for row in rows] == [
            (1, "a", "2026-01-01"),  # untouched partition keeps the first run's value
            (2, "b", "2026-01-02"),
            (3, "b", "2026-01-02"),
        ]


class TestPerModelSparkConf:
    @pytest.fixture(scope="class")
    def models(self):
        return {"tuned.py": SPARK_CONF_MODEL, "plain.py": DEFAULT_CONF_MODEL}

    def test_spark_conf_lasts_for_its_model_only(self, project):
        run_dbt(["run", "--threads", "2"])
        tuned = project.run_sql(f"select * from {project.test_schema}.tuned", fetch="one")
        plain = project.run_sql(f"select * from {project.test_schema}.plain", fetch="one")
        assert tuned[0] == "3"
        assert plain[0] == "4"  # the profile's value (pytests/conftest.py)


class TestTimeout:
    @pytest.fixture(scope="class")
    def models(self):
        return {"slow.py": SLOW_MODEL}

    def test_timeout_cancels_the_models_spark_jobs(self, project):
        started = time.perf_counter()
        results = run_dbt(["run"], expect_pass=False)
        elapsed = time.perf_counter() - started
        assert "Python model 'slow' timed out after 3 s (config 'timeout')" in results[0].message
        assert elapsed < 60, f"the job was not cancelled ({elapsed:.0f} s)"


class TestRegistration:
    @pytest.fixture(scope="class")
    def models(self):
        return {"plain.py": DEFAULT_CONF_MODEL}

    def test_installed_package_is_discoverable_by_dbt(self):
        # A setuptools import-hook editable install hides the package from pkgutil.iter_modules(), and
        # dbt would never load the plugin. The README's install (scripts/setup.sh) must not.
        assert "dbt_sweep" in {module.name for module in pkgutil.iter_modules()}
        assert "dbt_sweep" in PluginManager.get_prefixed_modules()

    def test_python_model_fails_plainly_when_not_registered(self, project, monkeypatch):
        from dbt.adapters.spark.impl import SparkAdapter

        from dbt_sweep.plugin.registration import JINJA_MARKER

        # What dbt sees when it never imported dbt_sweep: the adapter lacks the marker.
        monkeypatch.setattr(SparkAdapter, "_available_", SparkAdapter._available_ - {JINJA_MARKER})
        results = run_dbt(["run"], expect_pass=False)
        message = results[0].message
        assert "dbt-sweep's 'session' Python submission method is not registered" in message
        assert "cannot run Python model 'plain'" in message
        assert "install dbt-sweep with `pip install .`" in message
