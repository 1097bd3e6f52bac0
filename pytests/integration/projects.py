"""Builders for the integration tests' dbt projects, so that a test module writes only what differs.

dbt's test fixtures (`pytests/conftest.py`) take a project as dicts of files: `models`, `seeds`,
`macros`. A sweep is two kinds of Python model, a `sweep_manifest` and one or more `sweep_runs` on
it, plus a YAML file carrying each model's spec; `sweep_models` writes all three from one spec and
the per-model changes. `sales_csv` is the regression data most tests train on, `table` / `query`
read a relation back as pandas.
"""

from __future__ import annotations

import socket
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

__all__ = [
    "REPO",
    "ParquetProject",
    "INCREMENTAL_RUNS",
    "free_port",
    "incremental_runs_py",
    "manifest_py",
    "predictions_py",
    "query",
    "runs_py",
    "sales_csv",
    "sales_rows",
    "sales_spec",
    "sweep_models",
    "table",
    "write_files",
]

REPO = Path(__file__).resolve().parents[2]

# ---------- data

SALES_HEADER = "store,row_id,a,b,t"
STORE_SLOPES = {"s1": 2.0, "s2": -1.0, "s3": 0.5}


def sales_rows(store: str, n: int, slope: float) -> list[str]:
    """``n`` CSV rows of one store: ``t = slope * a - b`` plus noise, the same in every process."""
    rng = np.random.default_rng(zlib.crc32(store.encode()))
    return [f"{store},{i},{a:.4f},{b:.4f},{slope * a - b + 0.1 * e:.4f}"
            for i, (a, b, e) in enumerate(rng.normal(size=(n, 3)))]  # fmt: skip


def sales_csv(slopes: Mapping[str, float] = STORE_SLOPES, *, n: int = 40) -> str:
    """The `sales` seed: ``n`` rows per store (store -> slope), columns store, row_id, a, b, t."""
    rows = [row for store, slope in slopes.items() for row in sales_rows(store, n, slope)]
    return "\n".join([SALES_HEADER, *rows]) + "\n"


# ---------- specs

# What every sweep on `sales` has: its columns, a 25 % random holdout and groups of 10 rows or more.
SALES_SPEC = """\
source: sales
group_by: store
key: row_id
target: t
task: regression
features: [a, b]
split: {kind: random, test_size: 0.25, seed: 1}
min_rows: 10
"""


def sales_spec(more: str) -> dict[str, Any]:
    """A sweep spec on the `sales` seed: SALES_SPEC with the YAML keys ``more`` adds or replaces."""
    return {**yaml.safe_load(SALES_SPEC), **yaml.safe_load(more)}


# ---------- models

MANIFEST_PY = """\
import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    return dbt_sweep.models.sweep_manifest(dbt.ref("{source}"), spec, model=dbt.this.identifier)
"""

RUNS_PY = """\
import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    features = dbt.ref("{source}")
    manifest = dbt.ref("{manifest}")
    return dbt_sweep.models.sweep_runs(features, manifest, spec, model=dbt.this.identifier)
"""


INCREMENTAL_RUNS_PY = """\
import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    previous = session.table(str(dbt.this)) if dbt.is_incremental else None
    return dbt_sweep.models.sweep_runs(
        dbt.ref("{source}"),
        dbt.ref("{manifest}"),
        spec,
        model=dbt.this.identifier,
        previous=previous,
        retry=dbt.config.get("sweep_retry"),
    )
"""

#: The config of an incremental `sweep_runs` model, as python_models/_python_models__models.yml has it.
INCREMENTAL_RUNS = {
    "materialized": "incremental",
    "incremental_strategy": "insert_overwrite",
    "on_schema_change": "fail",
    "sweep_retry": "{{ var('sweep_retry', '') }}",
}

PREDICTIONS_PY = """\
import dbt_sweep.models


def model(dbt, session):
    spec = dbt.config.get("sweep")
    scoring = dbt.config.get("scoring")
    rows = dbt.ref("{rows}")
    best = dbt.ref("{best}")
    return dbt_sweep.models.sweep_predictions(rows, best, spec, scoring, model=dbt.this.identifier)
"""


def incremental_runs_py(source: str, manifest: str) -> str:
    """A `sweep_runs` Python model like python_models/sweep_runs.py: it passes the current table
    and the `sweep_retry` setting (configure it with :data:`INCREMENTAL_RUNS`)."""
    return INCREMENTAL_RUNS_PY.format(source=source, manifest=manifest)


def predictions_py(rows: str, best: str) -> str:
    """A predictions Python model scoring the relation ``rows`` with the winners in ``best``."""
    return PREDICTIONS_PY.format(rows=rows, best=best)


def manifest_py(source: str) -> str:
    """A `sweep_manifest` Python model on the features relation ``source``."""
    return MANIFEST_PY.format(source=source)


def runs_py(source: str, manifest: str) -> str:
    """A `sweep_runs` Python model training on ``source`` the runs of the model ``manifest``."""
    return RUNS_PY.format(source=source, manifest=manifest)


def sweep_models(
    spec: str | Mapping[str, Any],
    models: Mapping[str, str | None],
    *,
    changes: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> dict[str, str]:
    """The `models` files of a sweep: one Python file per model and ``schema.yml`` with the specs.

    Parameters
    ----------
    spec : str or mapping
        The sweep spec every model gets: its YAML text, or the mapping the YAML reads as.
    models : mapping of str to str or None
        Model name -> the manifest model it trains (a `sweep_runs` model), or None (a
        `sweep_manifest` model).
    changes : mapping, default=None
        Model name -> top-level spec keys that model replaces, or None: the model has no `sweep`
        config at all. A model reads the features relation its spec's ``source`` names.

    Returns
    -------
    dict of str to str
        ``<name>.py`` for each model and ``schema.yml``, ready for a `models` fixture.
    """
    if isinstance(spec, str):
        spec = yaml.safe_load(spec)
    changes = changes or {}
    files: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    for name, manifest in models.items():
        entry: dict[str, Any] = {"name": name}
        own = {**spec, **(changes.get(name) or {})}
        if name not in changes or changes[name] is not None:
            entry["config"] = {"sweep": own}
        source = own["source"]
        files[f"{name}.py"] = manifest_py(source) if manifest is None else runs_py(source, manifest)
        entries.append(entry)
    files["schema.yml"] = yaml.safe_dump(
        {"version": 2, "models": entries}, sort_keys=False, default_flow_style=None
    )
    return files


def write_files(folder: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (name -> text) into ``folder``, for a project built outside dbt's fixtures."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


class ParquetProject:
    """Fixtures of a project whose seeds and table models are parquet files."""

    # Class methods: pytest 9 deprecates class-scoped fixtures written as instance methods.
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return {"models": {"+file_format": "parquet"}, "seeds": {"+file_format": "parquet"}}


# ---------- reading back


def query(project: Any, sql: str) -> pd.DataFrame:
    """The rows of ``sql``, run through the project's adapter, as a DataFrame."""
    return pd.DataFrame([row.asDict() for row in project.run_sql(sql, fetch="all")])


def table(project: Any, name: str, *, schema: str | None = None) -> pd.DataFrame:
    """Every row of relation ``name`` in ``schema`` (the test schema by default)."""
    return query(project, f"select * from {schema or project.test_schema}.{name}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
