"""mkdocs hook: include a Markdown file from outside docs/ into a page, at build time.

A page line ``<!-- include: bench/README.md -->`` (a path from the repository root) is replaced by
that file without its first-level title, every heading one level deeper, so the page shows the
file as it is in the repository and cannot drift from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->$", re.MULTILINE)


def _nested(text: str) -> str:
    """Drop the ``# Title`` line and push every other heading one level down (not inside fences)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("# "):
            continue
        elif not fenced and line.startswith("#"):
            line = "#" + line
        out.append(line)
    return "\n".join(out).strip() + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs event: replace each include line with the named file's text."""
    root = Path(config["config_file_path"]).parent

    def included(match: re.Match[str]) -> str:
        return _nested((root / match["path"]).read_text(encoding="utf-8"))

    return INCLUDE.sub(included, markdown)
