"""The dbt project ``new`` writes into: where its models and macros go, and what it already has.

:func:`find_project` reads ``dbt_project.yml`` (model-paths, macro-paths, packages-install-path,
flags) without running dbt, so ``new`` works before ``dbt deps`` and without a profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dbt_sweep.scaffold.options import ScaffoldError

__all__ = ["MATERIALIZATION_FLAG", "PY_WRITE_TABLE_SQL", "DbtProject", "find_project"]

#: The project flag under which dbt uses a package's `table` and `incremental` materializations
#: (dbt-sweep's keep the last good table when a build fails).
MATERIALIZATION_FLAG = "require_explicit_package_overrides_for_builtin_materializations"

#: The root-project macro that hands Python models to dbt-sweep's writer: dbt-spark calls
#: ``py_write_table`` by its bare name, so only a root project's macro replaces dbt-spark's.
PY_WRITE_TABLE_SQL = """\
{#-
    Written by `python -m dbt_sweep new`. dbt-spark calls py_write_table by its bare name, so a
    package's version is never picked up: this wrapper hands Python models to dbt-sweep's writer
    (parquet unless the model's file_format says otherwise, partition_by honoured, a plain error
    when dbt-sweep's `session` submission method is missing).
-#}
{% macro py_write_table(compiled_code, target_relation) %}
  {{ return(sweep.py_write_table(compiled_code, target_relation)) }}
{% endmacro %}
"""

_DEFINES_PY_WRITE_TABLE = re.compile(r"{%-?\s*macro\s+py_write_table\s*\(")


@dataclass(frozen=True)
class DbtProject:
    """A dbt project on disk, as ``new`` needs it.

    Parameters
    ----------
    root : Path
        The folder of ``dbt_project.yml``.
    config : dict
        ``dbt_project.yml`` as YAML (Jinja left unrendered).
    """

    root: Path
    config: dict[str, Any]

    def _paths(self, key: str, default: str) -> list[str]:
        paths = self.config.get(key) or [default]
        return [paths] if isinstance(paths, str) else [str(path) for path in paths]

    @property
    def model_dir(self) -> Path:
        """The project's first model path (dbt's default: ``models``)."""
        return self.root / self._paths("model-paths", "models")[0]

    @property
    def macro_dir(self) -> Path:
        """The project's first macro path (dbt's default: ``macros``)."""
        return self.root / self._paths("macro-paths", "macros")[0]

    @property
    def package_installed(self) -> bool:
        """Whether ``dbt deps`` has installed dbt-sweep's dbt package (named ``sweep``)."""
        folder = self.config.get("packages-install-path") or "dbt_packages"
        return (self.root / str(folder) / "sweep" / "dbt_project.yml").is_file()

    @property
    def has_py_write_table(self) -> bool:
        """Whether a macro file of the project already defines ``py_write_table``."""
        for name in self._paths("macro-paths", "macros"):
            for path in sorted((self.root / name).rglob("*.sql")):
                if _DEFINES_PY_WRITE_TABLE.search(path.read_text(errors="replace")):
                    return True
        return False

    def defines(self, name: str) -> bool:
        """Whether a model (``.sql``/``.py``) or seed (``.csv``) file of the project is ``name``."""
        folders = [*self._paths("model-paths", "models"), *self._paths("seed-paths", "seeds")]
        files = {f"{name}.sql", f"{name}.py", f"{name}.csv"}
        return any(
            path.name in files for folder in folders for path in (self.root / folder).rglob("*")
        )

    @property
    def uses_package_materializations(self) -> bool:
        """Whether dbt uses dbt-sweep's table and incremental materializations in this project."""
        flags = self.config.get("flags") or {}
        return isinstance(flags, dict) and flags.get(MATERIALIZATION_FLAG) is False


def find_project(project_dir: Path | str) -> DbtProject:
    """Read the dbt project in ``project_dir``.

    Parameters
    ----------
    project_dir : path
        The folder holding ``dbt_project.yml`` (as dbt's ``--project-dir``).

    Returns
    -------
    DbtProject

    Raises
    ------
    ScaffoldError
        When the folder has no readable ``dbt_project.yml``.
    """
    root = Path(project_dir).resolve()
    path = root / "dbt_project.yml"
    if not path.is_file():
        raise ScaffoldError(
            [
                f"No dbt project in {root}: the --project-dir option must name the folder that "
                "holds dbt_project.yml. Run the command from your dbt project, or pass "
                "--project-dir PATH (`dbt init` creates a project)."
            ]
        )
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScaffoldError([f"{path} is not valid YAML: {exc}"]) from None
    if not isinstance(config, dict):
        raise ScaffoldError([f"{path} must be a YAML mapping. Got {type(config).__name__}."])
    return DbtProject(root=root, config=config)
