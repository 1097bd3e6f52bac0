"""``python -m dbt_sweep contract [MODEL ...] [--check]``: a sweep table's columns, from its spec.

Writes the ``columns:`` block of each named model (by default: every sweep table of the project) in
the YAML file that declares it: one entry per column of the table, in table order, with its
``data_type`` and a ``description`` that references the column's doc block. The columns follow from
the spec (group columns, metrics, the task); the types of the columns that come from the data (group,
key and partition columns) are the ones the project declares for the spec's source model (its
columns' ``data_type``, or a seed's ``column_types``), else the ones the block already has. Every
other key of an existing column (``data_tests``, ``constraints``...) is kept as written, and the rest
of the file is not touched.

With ``--check`` nothing is written: the command exits 1, naming each column that differs from the
spec, when a block is not what it would write (for CI and pre-commit).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dbt_sweep.cli.project import (
    ProjectError,
    SweepTable,
    add_dbt_options,
    dbt_args,
    parse_project,
    source_types,
    sweep_tables,
)
from dbt_sweep.cli.yaml_columns import ColumnEntry, read_columns, replace_columns
from dbt_sweep.exceptions import SweepSpecError
from dbt_sweep.spec.contract import TABLE_KINDS, contract_columns, data_columns

__all__ = ["drift", "expected_columns", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbt_sweep contract",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="*", metavar="MODEL", help="default: every sweep table")
    parser.add_argument("--check", action="store_true", help="verify only; exit 1 on any drift")
    add_dbt_options(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ProjectError, SweepSpecError) as exc:
        print(f"dbt_sweep contract: {exc}", file=sys.stderr)  # noqa: T201
        return 1


def _run(args: argparse.Namespace) -> int:
    manifest = parse_project(dbt_args(args))
    tables = {table.name: table for table in sweep_tables(manifest)}
    unknown = [name for name in args.models if name not in tables]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        verb = "is not a sweep table" if len(unknown) == 1 else "are not sweep tables"
        raise ProjectError(
            f"{listed} {verb} of the project, so there are no columns to derive. Sweep "
            f"tables: {sorted(tables)}. A sweep table is {'; or '.join(TABLE_KINDS.values())}."
        )
    project_dir = Path(args.project_dir)
    checked = drifted = 0
    for name in args.models or sorted(tables):
        table = tables[name]
        if not table.node.patch_path and not args.models:
            print(f"{name}: skipped, it has no entry in a YAML file")  # noqa: T201
            continue
        checked += 1
        drifted += bool(_one(table, manifest, project_dir, check=args.check))
    if not args.check:
        return 0
    if drifted:
        command = " ".join(["python -m dbt_sweep contract", *args.models])
        summary = f"{drifted} contract(s) differ from their sweep spec. Run `{command}`"
        print(f"{summary} to rewrite them.")  # noqa: T201
        return 1
    print(f"{checked} contract(s) match their sweep spec.")  # noqa: T201
    return 0


def _one(table: SweepTable, manifest: Any, project_dir: Path, *, check: bool) -> list[str]:
    """Write (or with ``check``, compare) one table's columns block; return the drift found."""
    path = table.yaml_path(project_dir)
    shown = path.relative_to(project_dir) if path.is_relative_to(project_dir) else path
    text = path.read_text()
    current = read_columns(text, table.name).columns
    wanted = expected_columns(table, manifest, current)
    new = replace_columns(text, table.name, wanted)
    if new == text:
        return []
    if not check:
        path.write_text(new)
        print(f"{table.name}: wrote {len(wanted)} columns to {shown}")  # noqa: T201
        return []
    problems = drift(current, wanted) or [
        "the columns block is not written as the command writes it"
    ]
    for problem in problems:
        print(f"{table.name} ({shown}): {problem}")  # noqa: T201
    return problems


def expected_columns(
    table: SweepTable, manifest: Any, current: Sequence[ColumnEntry]
) -> list[ColumnEntry]:
    """The columns block ``table`` should have: generated keys from the spec, other keys kept."""
    spec = table.spec()
    scoring = table.sweep_node.config.get("scoring") or {}
    partition_by = scoring.get("partition_by") if table.kind == "predictions" else None
    source = scoring.get("source") if table.kind == "predictions" else spec.source
    needed = data_columns(spec, table.kind, partition_by=partition_by, model=table.sweep_node.name)
    declared = source_types(manifest, str(source))
    existing = {column.name: column for column in current}
    types = {}
    for column in needed:
        kind = declared.get(column) or getattr(existing.get(column), "data_type", None)
        if not kind:
            raise ProjectError(
                f"The contract of model '{table.name}' needs the type of column '{column}', which "
                f"comes from the data, not from the spec. Declare it in the YAML of model "
                f"'{source}' (columns: [{{name: {column}, data_type: <type>}}]) or give the "
                f"column a data_type in the columns of '{table.name}', then run again."
            )
        types[column] = str(kind)
    columns = contract_columns(
        spec,
        table.kind,
        types,
        partition_by=partition_by,
        probabilities=bool(scoring.get("probabilities")),
        model=table.sweep_node.name,
    )
    return [
        ColumnEntry(
            name=c.name,
            data_type=c.data_type,
            description=c.description,
            kept=existing[c.name].kept if c.name in existing else (),
        )
        for c in columns
    ]


def drift(current: Sequence[ColumnEntry], wanted: Sequence[ColumnEntry]) -> list[str]:
    """One line per column that differs between the block and what the spec gives."""
    have = {c.name: c for c in current}
    need = {c.name: c for c in wanted}
    out = [f"column '{n}' is missing (the table has it)" for n in need if n not in have]
    out += [f"column '{n}' is not a column of the table" for n in have if n not in need]
    for name in (n for n in need if n in have):
        for key in ("data_type", "description"):
            got, expected = getattr(have[name], key), getattr(need[name], key)
            if got != expected:
                out.append(f"column '{name}' has {key} {got!r}; the spec gives {expected!r}")
    order = [n for n in have if n in need]
    if not out and order != [n for n in need if n in have]:
        out.append(f"the columns are not in table order {list(need)}")
    return out
