"""Seeds on session targets: dbt seed through Spark's DataFrame API (issue 17), real dbt runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from dbt.tests.util import run_dbt, write_file

from dbt_sweep.plugin import registration
from dbt_sweep.plugin.seeds import cell_text

ROWS = 50_000
# Values dbt-spark's SQL path broke or changed: quotes (a SQL syntax error), `%` (Python string
# formatting of the bindings), backslashes (SQL escapes), unicode, a quoted newline, a comma.
TEXTS = [
    "O'Brien",
    'say "hi"',
    "a, b",
    "back\\slash \\n",
    "naïve café 東京 🚀",
    "100% of %s",
    "two\nlines",
    " padded ",
    "'; drop table x; --",
]
NAMES = ["id", "big", "amount", "name", "flag", "day", "ts", "code"]


def mixed_csv(rows: int) -> str:
    """A seed of ``rows`` rows: ints, ints beyond 2**53, floats, strings, booleans, dates,
    timestamps, zero-padded codes, with empty cells in every column but ``id``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NAMES)
    start = dt.datetime(2026, 1, 1, 0, 0, 0)
    for i in range(rows):
        writer.writerow(
            [
                i,
                "" if i % 89 == 0 else 2**53 + i,
                "" if i % 97 == 0 else f"{(i * 7919 % 200_001 - 100_000) / 1000:.3f}",
                "" if i % 101 == 0 else f"{TEXTS[i % len(TEXTS)]} #{i}",
                "" if i % 103 == 0 else ("true" if i % 3 else "false"),
                "" if i % 107 == 0 else (start.date() + dt.timedelta(days=i % 730)).isoformat(),
                "" if i % 109 == 0 else str(start + dt.timedelta(seconds=i * 611)),
                "" if i % 113 == 0 else f"{i % 1000:05d}",
            ]
        )
    return out.getvalue()


def expected_rows(path: Path, *, code_as_text: bool) -> list[tuple]:
    """The CSV as pandas reads it (every cell as text; empty is missing), typed as dbt types it."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    frame = frame.astype(object).where(frame.notna(), None)
    parse = {
        "id": int,
        "big": int,
        "amount": float,
        "name": str,
        "flag": lambda text: text == "true",
        "day": dt.date.fromisoformat,
        "ts": str,  # read back as text, see the query in `table_rows`
        "code": str if code_as_text else int,
    }
    return [
        tuple(
            None if value is None else parse[name](value)
            for name, value in zip(NAMES, row, strict=True)
        )
        for row in frame.itertuples(index=False)
    ]


def table_rows(project, table: str) -> list[tuple]:
    # Timestamps as text: collect() would turn them into the driver's local time.
    columns = ", ".join("cast(ts as string)" if name == "ts" else name for name in NAMES)
    rows = project.run_sql(
        f"select {columns} from {project.test_schema}.{table} order by id", fetch="all"
    )
    return [tuple(row) for row in rows]


def column_types(project, table: str) -> dict[str, str]:
    rows = project.run_sql(f"describe {project.test_schema}.{table}", fetch="all")
    return {row[0]: row[1] for row in rows if row[0] and not row[0].startswith("#")}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (2**53 + 1, "9007199254740993"),
        (Decimal("1E+5"), "100000"),
        (Decimal("-0.000001"), "-0.000001"),
        (Decimal("12.50"), "12.50"),
        (dt.date(2026, 1, 2), "2026-01-02"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02 03:04:05"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, 6), "2026-01-02 03:04:05.000006"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2026-01-02 03:04:05+00:00"),
        ('O\'Brien "%s" \\ 東京', 'O\'Brien "%s" \\ 東京'),
    ],
    ids=[
        "none",
        "true",
        "false",
        "zero",
        "int-beyond-float",
        "decimal-exponent",
        "decimal-small",
        "decimal-trailing-zero",
        "date",
        "datetime",
        "datetime-micros",
        "datetime-tz",
        "text-unchanged",
    ],
)
def test_cell_text(value, text):
    """Each agate value becomes the text Spark's cast reads back as the same value."""
    assert cell_text(value) == text


def test_load_seed_method_loads_nothing_off_session_targets():
    """On a thrift/http/odbc target the adapter method returns None: the macro keeps SQL inserts."""
    adapter = SimpleNamespace(config=SimpleNamespace(credentials=SimpleNamespace(method="thrift")))
    assert registration._load_seed(adapter, None, None, []) is None


@pytest.mark.integration
class TestFiftyThousandRowSeed:
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"mixed.csv": mixed_csv(ROWS)}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"seeds": {"+file_format": "parquet"}}

    def test_loads_in_seconds_with_every_value_kept(self, project):
        started = time.perf_counter()
        results = run_dbt(["seed"])
        elapsed = time.perf_counter() - started
        print(
            f"\n50,000-row seed: dbt seed {elapsed:.1f} s, node {results[0].execution_time:.1f} s"
        )
        # dbt-spark's per-cell type inference did not finish a 54k-row seed in 17 minutes (issue 17).
        # The bound is loose for loaded machines (56 s measured with a load of 20 on 2 cores, most
        # of it waiting for a CPU) but still catches a per-cell or per-row path.
        assert results[0].execution_time < 120, f"seed took {results[0].execution_time:.0f} s"
        assert column_types(project, "mixed") == {
            "id": "bigint",
            "big": "bigint",
            "amount": "double",
            "name": "string",
            "flag": "boolean",
            "day": "date",
            "ts": "timestamp",
            "code": "bigint",
        }
        path = Path(project.project_root) / "seeds" / "mixed.csv"
        assert table_rows(project, "mixed") == expected_rows(path, code_as_text=False)
        compiled = (Path(project.project_root) / "target" / "run").rglob("mixed.csv")
        assert "-- 50000 rows appended to" in next(compiled).read_text()

    def test_reseed_replaces_rows(self, project):
        write_file(mixed_csv(1_000), project.project_root, "seeds", "mixed.csv")
        run_dbt(["seed"])
        path = Path(project.project_root) / "seeds" / "mixed.csv"
        assert table_rows(project, "mixed") == expected_rows(path, code_as_text=False)

    def test_full_refresh_replaces_rows(self, project):
        write_file(mixed_csv(500), project.project_root, "seeds", "mixed.csv")
        run_dbt(["seed", "--full-refresh"])
        path = Path(project.project_root) / "seeds" / "mixed.csv"
        assert table_rows(project, "mixed") == expected_rows(path, code_as_text=False)


TYPED_CSV = """\
id,day,code,amount,note
1,2026-01-01,00042,12.50,plain
2,2026-01-01,007,0.01,it's
3,2026-01-02,,99999999.99,
"""

BAD_CSV = """\
id,amount
1,12.5
2,n/a
3,seven
"""


@pytest.mark.integration
class TestColumnTypes:
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"typed.csv": TYPED_CSV, "bad.csv": BAD_CSV}

    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {
            "seeds": {
                "+file_format": "parquet",
                "test": {  # the test project's name
                    "typed": {
                        "+column_types": {"code": "string", "amount": "decimal(12,2)"},
                        # Spark stores partition columns last: rows must still land by name.
                        "+partition_by": ["day"],
                    },
                    "bad": {"+column_types": {"amount": "decimal(12,2)"}},
                },
            }
        }

    def test_column_types_override_inferred_types(self, project):
        run_dbt(["seed", "--select", "typed"])
        assert column_types(project, "typed") == {
            "id": "bigint",
            "code": "string",
            "amount": "decimal(12,2)",
            "note": "string",
            "day": "date",
        }
        rows = project.run_sql(
            f"select id, day, code, amount, note from {project.test_schema}.typed order by id",
            fetch="all",
        )
        assert [tuple(row) for row in rows] == [
            (1, dt.date(2026, 1, 1), "00042", Decimal("12.50"), "plain"),
            (2, dt.date(2026, 1, 1), "007", Decimal("0.01"), "it's"),
            (3, dt.date(2026, 1, 2), None, Decimal("99999999.99"), None),
        ]

    def test_value_that_does_not_cast_names_column_and_value(self, project):
        results = run_dbt(["seed", "--select", "bad"], expect_pass=False)
        assert (
            "The 'amount' column of seed 'bad' must hold values of type decimal(12,2). "
            "Got 'n/a' in 2 row(s). Fix the values, or set the column's type in the seed's "
            "'column_types' config (e.g. string)."
        ) in results[0].message


@pytest.mark.integration
class TestWithoutPlugin:
    @pytest.fixture(scope="class")
    def seeds(self):
        return {"small.csv": "id,amount,name\n1,1.5,a\n2,2.25,b\n"}

    def test_falls_back_to_sql_inserts_with_types_once(self, project, monkeypatch):
        from dbt.adapters.spark.impl import SparkAdapter

        from dbt_sweep.plugin.registration import LOAD_SEED_METHOD

        # What dbt sees when it never imported dbt_sweep: the adapter lacks the method.
        monkeypatch.setattr(
            SparkAdapter, "_available_", SparkAdapter._available_ - {LOAD_SEED_METHOD}
        )
        calls = []
        convert_type = SparkAdapter.convert_type.__func__
        monkeypatch.setattr(
            SparkAdapter,
            "convert_type",
            classmethod(
                lambda cls, table, index: calls.append(index) or convert_type(cls, table, index)
            ),
        )
        run_dbt(["seed"])
        compiled = next((Path(project.project_root) / "target" / "run").rglob("small.csv"))
        assert "insert into" in compiled.read_text()
        # Once per column in create_csv_table and once in load_csv_rows, not once per cell.
        assert sorted(calls) == [0, 0, 1, 1, 2, 2]
        rows = project.run_sql(
            f"select * from {project.test_schema}.small order by id", fetch="all"
        )
        assert [tuple(row) for row in rows] == [(1, 1.5, "a"), (2, 2.25, "b")]
