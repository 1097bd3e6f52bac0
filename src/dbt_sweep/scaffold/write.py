"""Where ``new`` puts each file, and writing them all or none.

:func:`plan_files` maps each path to its text: the sweep's five files in ``<model-path>/<name>/``
and, when the project has none yet, the ``py_write_table`` macro that hands Python models to
dbt-sweep. :func:`write_files` refuses to overwrite: if any path exists it writes nothing and
names every one that does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dbt_sweep.scaffold.files import sweep_files
from dbt_sweep.scaffold.options import ScaffoldError, SweepOptions
from dbt_sweep.scaffold.project import PY_WRITE_TABLE_SQL, DbtProject
from dbt_sweep.scaffold.spec import check_schema

__all__ = ["plan_files", "write_files"]


def plan_files(options: SweepOptions, project: DbtProject) -> dict[Path, str]:
    """Every file ``new`` would write for ``options`` into ``project``: path -> text.

    The generated spec is validated with :func:`dbt_sweep.spec.parse_spec` first.

    Parameters
    ----------
    options : SweepOptions
    project : DbtProject

    Returns
    -------
    dict of Path to str
        The sweep's files, plus ``<macro-path>/py_write_table.sql`` if no macro of the project
        defines ``py_write_table``.

    Raises
    ------
    dbt_sweep.exceptions.SweepSpecError
        If the starter spec does not parse (a bug in the templates, never the user's).
    """
    files = sweep_files(options)
    check_schema(files[f"_{options.name}__models.yml"])
    folder = project.model_dir / options.name
    planned = {folder / name: text for name, text in files.items()}
    if not project.has_py_write_table:
        planned[project.macro_dir / "py_write_table.sql"] = PY_WRITE_TABLE_SQL
    return planned


def write_files(files: Mapping[Path, str], *, root: Path) -> list[Path]:
    """Write ``files`` (path -> text), creating folders, unless any path exists.

    Parameters
    ----------
    files : mapping of Path to str
    root : Path
        The project folder, to name paths relative to it in messages.

    Returns
    -------
    list of Path
        The paths written, in ``files`` order.

    Raises
    ------
    ScaffoldError
        Naming every path that exists; nothing is written then.
    """
    existing = [path for path in files if path.exists()]
    if existing:
        names = ", ".join(_relative(path, root) for path in existing)
        raise ScaffoldError(
            [
                f"Nothing was written: {len(existing)} of the {len(files)} files exist already "
                f"({names}). Choose another sweep NAME, or move those files away and run the "
                "command again."
            ]
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
