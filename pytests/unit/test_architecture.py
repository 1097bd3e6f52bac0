"""The package's shape: import-linter's contracts (pyproject.toml) hold, and no module is too long.

STYLE.md point 12: imports point down the stages only, and a module above 400 lines is a defect to
split.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
MAX_MODULE_LINES = 400
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")  # the venv's console script


def test_import_contracts_are_kept():
    """`lint-imports` reads the contracts from pyproject.toml in the repository root."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_there_are_modules_to_measure():
    assert len(_modules()) > 10


@pytest.mark.parametrize(
    "path", _modules(), ids=[str(path.relative_to(SRC)) for path in _modules()]
)
def test_module_is_at_most_400_lines(path: Path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f"{path.relative_to(REPO)} has {lines} lines; split it below {MAX_MODULE_LINES} "
        "(STYLE.md point 12)"
    )
