"""Scaffolding for ``python -m dbt_sweep new``: one sweep's files in a user's dbt project.

:func:`sweep_options` checks the arguments, :func:`find_project` reads ``dbt_project.yml``,
:func:`plan_files` renders the files (the starter spec validated by ``parse_spec``) and
:func:`write_files` writes them all or none. :func:`add_gitignore_lines` appends the ignore lines
a dbt-sweep project needs. Nothing here imports Spark or dbt.
"""

from __future__ import annotations

from dbt_sweep.scaffold.gitignore import (
    GITIGNORE_LINES,
    add_gitignore_lines,
    missing_gitignore_lines,
)
from dbt_sweep.scaffold.options import ScaffoldError, SweepOptions, sweep_options
from dbt_sweep.scaffold.project import MATERIALIZATION_FLAG, DbtProject, find_project
from dbt_sweep.scaffold.write import plan_files, write_files

__all__ = [
    "GITIGNORE_LINES",
    "MATERIALIZATION_FLAG",
    "DbtProject",
    "ScaffoldError",
    "SweepOptions",
    "add_gitignore_lines",
    "find_project",
    "missing_gitignore_lines",
    "plan_files",
    "sweep_options",
    "write_files",
]
