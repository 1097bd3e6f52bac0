"""A failed build keeps the last good table (macros/materializations/table.sql), in real dbt builds.

The `table` materialization writes the new result to `<name>__dbt_tmp` and swaps it in only when the
write succeeded; dbt-spark's own drops a parquet table first, so any failure left no table at all.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from dbt.tests.util import run_dbt, run_dbt_and_capture

pytestmark = pytest.mark.integration

# `outcome` (a var) picks what this build does: 3 rows, 5 rows, fail in the model function, or fail
# inside Spark's write job (a Python UDF raising on a worker: the failure is in the JVM write of the
# new table, after the model function has returned).
PYTHON_MODEL = """\
from pyspark.sql.functions import udf


@udf("long")
def explode(value):
    raise RuntimeError("write failed on purpose")


def model(dbt, session):
    outcome = dbt.config.get("outcome")
    if outcome == "fail_in_model":
        raise RuntimeError("model failed on purpose")
    if outcome == "fail_in_write":
        return session.range(3).select(explode("id").alias("id"))
    rows = 3 if outcome == "first" else 5
    columns = ["id", f"'{outcome}' as outcome"] + (["1 as extra"] if outcome == "wider" else [])
    return session.range(rows).selectExpr(*columns)
"""

# dbt gives a Python model `materialized: table` unless its file or YAML says otherwise (a project-level
# `+materialized` does not apply to Python models).
INCREMENTAL_MODEL = PYTHON_MODEL.replace(
    'outcome = dbt.config.get("outcome")',
    'dbt.config(materialized="incremental", incremental_strategy="insert_overwrite")\n'
    '    outcome = dbt.config.get("outcome")',
)

SQL_MODEL = """\
{% if var('outcome') == 'fail' %}
select raise_error('sql failed on purpose') as id
{% else %}
select explode(sequence(1, {{ 3 if var('outcome') == 'first' else 5 }})) as id
{% endif %}
"""


def build(outcome: str, *args: str, expect_pass: bool = True):
    return run_dbt(["run", "--vars", f"{{outcome: {outcome}}}", *args], expect_pass=expect_pass)


def rows(project, name: str) -> list[tuple]:
    found = project.run_sql(f"select * from {project.test_schema}.{name} order by id", fetch="all")
    return [tuple(row) for row in found]


def tables(project) -> list[str]:
    found = project.run_sql(f"show tables in {project.test_schema}", fetch="all")
    return sorted(row[1] for row in found)


def table_dirs(project) -> list[str]:
    """The schema's folders in the warehouse: a half-written table would leave one behind.

    The folder is the one Spark reports: the warehouse is a static setting of the process's first
    SparkSession, so under pytest-xdist it is that of whichever test file opened Spark first."""
    described = project.run_sql(f"describe schema extended {project.test_schema}", fetch="all")
    (location,) = [row[1] for row in described if row[0] == "Location"]
    folder = Path(urlparse(location).path)
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))


class TestPythonTableSurvivesFailedBuilds:
    @pytest.fixture(scope="class")
    def models(self):
        return {"runs.py": PYTHON_MODEL}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+outcome": "{{ var('outcome', 'first') }}"}}

    def test_old_table_kept_until_the_new_one_is_complete(self, project):
        build("first")
        first = [(i, "first") for i in range(3)]
        assert rows(project, "runs") == first

        results = build("fail_in_model", expect_pass=False)
        assert "model failed on purpose" in results[0].message
        assert rows(project, "runs") == first

        results = build("fail_in_write", expect_pass=False)
        assert "write failed on purpose" in results[0].message
        assert rows(project, "runs") == first

        build("third")
        assert rows(project, "runs") == [(i, "third") for i in range(5)]
        assert tables(project) == ["runs"]
        assert table_dirs(project) == ["runs"]

    def test_build_that_died_mid_swap_is_repaired(self, project):
        # What a build killed between its two renames leaves: the last good table under its backup
        # name and a complete new table under the intermediate name; the next build, even one that
        # fails, puts the last good table back.
        schema = project.test_schema
        project.run_sql(f"alter table {schema}.runs rename to {schema}.runs__dbt_backup")
        project.run_sql(f"create table {schema}.runs__dbt_tmp using parquet as select 42L as id")
        build("fail_in_model", expect_pass=False)
        assert rows(project, "runs") == [(i, "third") for i in range(5)]
        assert tables(project) == ["runs"]

        build("first")
        assert rows(project, "runs") == [(i, "first") for i in range(3)]
        assert tables(project) == ["runs"]
        assert table_dirs(project) == ["runs"]


class TestSqlTableSurvivesFailedBuilds:
    @pytest.fixture(scope="class")
    def models(self):
        return {"numbers.sql": SQL_MODEL}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+materialized": "table", "+file_format": "parquet"}}

    def test_failed_query_keeps_the_old_table(self, project):
        build("first")
        assert rows(project, "numbers") == [(1,), (2,), (3,)]

        results = build("fail", expect_pass=False)
        assert "sql failed on purpose" in results[0].message
        assert rows(project, "numbers") == [(1,), (2,), (3,)]

        build("third")
        assert rows(project, "numbers") == [(i,) for i in range(1, 6)]
        assert tables(project) == ["numbers"]
        assert table_dirs(project) == ["numbers"]


class TestIncrementalPythonSurvivesFailedBuilds:
    """A Python model that returns its whole table: `insert_overwrite` without `partition_by`."""

    @pytest.fixture(scope="class")
    def models(self):
        return {"runs.py": INCREMENTAL_MODEL}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+outcome": "{{ var('outcome', 'first') }}", "+file_format": "parquet"}}

    def test_whole_table_is_swapped_in_and_failures_keep_the_old_one(self, project):
        build("first")
        assert rows(project, "runs") == [(i, "first") for i in range(3)]

        # The complete new table is renamed into place; `insert overwrite` would delete the old
        # files before copying the new ones.
        _, log = run_dbt_and_capture(["--debug", "run", "--vars", "{outcome: second}"])
        assert "rename to" in log and "insert overwrite" not in log
        second = [(i, "second") for i in range(5)]
        assert rows(project, "runs") == second

        results = build("fail_in_write", expect_pass=False)
        assert "write failed on purpose" in results[0].message
        assert rows(project, "runs") == second

        # dbt-spark drops the table before a full refresh: a failing one left no table.
        results = build("fail_in_model", "--full-refresh", expect_pass=False)
        assert "model failed on purpose" in results[0].message
        assert rows(project, "runs") == second
        assert tables(project) == ["runs"]

        # New columns (on_schema_change: ignore): dbt-spark's insert overwrite, which keeps the
        # table's columns.
        build("wider")
        assert rows(project, "runs") == [(i, "wider") for i in range(5)]

        build("third", "--full-refresh")
        assert rows(project, "runs") == [(i, "third") for i in range(5)]
        assert tables(project) == ["runs"]
        assert table_dirs(project) == ["runs"]
