"""Scaffold one sweep into the current dbt project: its models, starter spec, descriptions and tests.

``python -m dbt_sweep new sales --source feat_sales --group-by store --key row_id --target amount
--task regression`` writes ``sales_manifest.py``, ``sales_runs.py``, ``sales_best_models.sql``,
``sales_trials.sql`` and ``_sales__models.yml`` under the project's first model path
(``models/sales/``), and ``macros/py_write_table.sql`` if the project has no such macro yet. It
writes nothing if any of those files exists. ``--gitignore`` appends the ignore lines a dbt-sweep
project needs (dbt's artifacts, the local Spark warehouse, the MLflow store) to ``.gitignore``;
alone (``python -m dbt_sweep new --gitignore``) it does only that.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dbt_sweep.scaffold import (
    MATERIALIZATION_FLAG,
    DbtProject,
    ScaffoldError,
    add_gitignore_lines,
    find_project,
    missing_gitignore_lines,
    plan_files,
    sweep_options,
    write_files,
)
from dbt_sweep.scaffold.options import TASKS

__all__ = ["main"]

PROG = "python -m dbt_sweep new"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "name", nargs="?", metavar="NAME", help="the sweep's name, the prefix of its models"
    )
    parser.add_argument("--source", help="the feature model: one row per example")
    parser.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="COLUMN",
        help="the group column(s): repeat the option or separate columns with commas",
    )
    parser.add_argument("--key", help="the column identifying a row of the source")
    parser.add_argument("--target", help="the column to predict")
    parser.add_argument("--task", help=f"one of {', '.join(TASKS)}")
    parser.add_argument(
        "--project-dir", default=".", help="the dbt project's folder (default: the current one)"
    )
    parser.add_argument(
        "--gitignore",
        action="store_true",
        help="append the missing dbt-sweep lines to the project's .gitignore",
    )
    return parser


def _missing_options(args: argparse.Namespace) -> list[str]:
    wanted = {"--source": args.source, "--group-by": args.group_by, "--key": args.key,
              "--target": args.target, "--task": args.task}  # fmt: skip
    return [option for option, value in wanted.items() if not value]


def _report(project: DbtProject, written: list[Path], name: str) -> list[str]:
    lines = [f"Wrote the '{name}' sweep into the dbt project {project.root}:"]
    lines += [f"  {path.relative_to(project.root)}" for path in written]
    lines += [
        "",
        "Build it, with its upstream models and its tests:",
        f"  dbt build -s +{name}_best_models",
    ]
    if not project.package_installed:
        lines += [
            "",
            "The models call dbt-sweep's dbt package (macros, generic tests), which this project "
            "has not installed yet: add it to packages.yml and run `dbt deps` first:",
            "  packages:",
            "    - local: /path/to/dbt-sweep   # or - git: <its repository URL>",
        ]
    if not project.uses_package_materializations:
        lines += [
            "",
            "Optional: with this in dbt_project.yml, dbt uses dbt-sweep's table and incremental "
            "materializations, which keep the last good table when a build fails:",
            "  flags:",
            f"    {MATERIALIZATION_FLAG}: false",
        ]
    return lines


def _gitignore_lines(project: DbtProject, *, add: bool) -> list[str]:
    path = project.root / ".gitignore"
    if add:
        added = add_gitignore_lines(path)
        if not added:
            return ["", f"{path.name} has every line dbt-sweep needs already."]
        return ["", f"Appended to {path.name}: {' '.join(added)}"]
    missing = missing_gitignore_lines(path)
    if not missing:
        return []
    return [
        "",
        "Keep dbt's artifacts, the local Spark warehouse and the MLflow store out of git: add "
        f"these lines to {path.name} (or run `{PROG} --gitignore`):",
        *(f"  {line}" for line in missing),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m dbt_sweep new``; return the exit code (2: usage error, 1: not written)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.name is None and not args.gitignore:
        parser.error(
            "NAME is required: the sweep's name, e.g. `new sales --source feat_sales ...`."
        )
    if args.name is not None and _missing_options(args):
        missing = ", ".join(_missing_options(args))
        parser.error(
            f"the sweep '{args.name}' needs {missing}. Example: {PROG} {args.name} --source "
            "feat_sales --group-by store --key row_id --target amount --task regression"
        )
    try:
        project = find_project(args.project_dir)
        if args.name is None:
            print("\n".join(_gitignore_lines(project, add=True)).lstrip("\n"))  # noqa: T201
            return 0
        options = sweep_options(args.name, source=args.source, group_by=args.group_by,
                                key=args.key, target=args.target, task=args.task)  # fmt: skip
    except ScaffoldError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    notes = []
    if not project.defines(options.source):
        notes = [
            f"Note: no model or seed file named '{options.source}' in this project; if --source "
            "is not a model of an installed package, fix its name in "
            f"_{options.name}__models.yml and the two .py models.",
            "",
        ]
    try:
        written = write_files(plan_files(options, project), root=project.root)
    except ScaffoldError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    lines = [*notes, *_report(project, written, options.name)]
    lines += _gitignore_lines(project, add=args.gitignore)
    print("\n".join(lines))  # noqa: T201
    return 0
