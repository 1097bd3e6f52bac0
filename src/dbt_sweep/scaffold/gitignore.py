"""The ``.gitignore`` lines a dbt-sweep project needs, and appending the missing ones.

dbt writes ``target/``, ``logs/`` and ``dbt_packages/``; the ``local`` target's embedded Spark keeps
its warehouse and Derby metastore in ``.spark/``; MLflow's embedded store is ``mlflow.db`` with its
artifacts in ``mlruns/``. None of it belongs in git.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GITIGNORE_LINES", "add_gitignore_lines", "missing_gitignore_lines"]

#: What a dbt-sweep project ignores, in the order ``new --gitignore`` appends it.
GITIGNORE_LINES = (
    "target/",
    "logs/",
    "dbt_packages/",
    ".spark/",
    "metastore_db/",
    "spark-warehouse/",
    "derby.log",
    "mlruns/",
    "mlflow.db",
)

_HEADER = "# dbt-sweep: dbt artifacts, the local Spark warehouse, the MLflow store"


def missing_gitignore_lines(path: Path) -> list[str]:
    """The lines of :data:`GITIGNORE_LINES` that the ignore file ``path`` lacks (all if none)."""
    present = set()
    if path.is_file():
        present = {line.strip() for line in path.read_text().splitlines()}
    # `target` and `/target/` ignore what `target/` does.
    return [
        line
        for line in GITIGNORE_LINES
        if not present & {line, line.rstrip("/"), "/" + line, "/" + line.rstrip("/")}
    ]


def add_gitignore_lines(path: Path) -> list[str]:
    """Append the missing lines to the ignore file ``path`` (created if absent).

    Idempotent: a second call appends nothing.

    Parameters
    ----------
    path : Path
        The project's ``.gitignore``.

    Returns
    -------
    list of str
        The lines appended.
    """
    missing = missing_gitignore_lines(path)
    if not missing:
        return []
    text = path.read_text() if path.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + "\n".join([_HEADER, *missing]) + "\n")
    return missing
