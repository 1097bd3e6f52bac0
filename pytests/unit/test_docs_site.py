"""The documentation site: it builds strictly, every page is in the navigation, the generated spec
reference covers the spec, and the README stays a short front door (issue 16, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dbt_sweep.spec import SweepSpec

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
README_MAX_LINES = 150


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict` into a temporary folder: a broken link, a missing anchor or a nav
    entry without its page is a warning, and --strict fails the build on any warning."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (
        f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    )
    return out


def _nav_pages(entries: list) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            pages += _nav_pages(value)
        elif isinstance(value, str) and value.endswith(".md"):
            pages.append(value)
    return pages


def test_site_builds_strictly(site: Path):
    assert (site / "index.html").is_file()
    assert (site / "reference" / "spec" / "index.html").is_file()


def test_every_page_in_docs_is_in_the_nav():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    in_nav = set(_nav_pages(config["nav"]))
    pages = {
        str(path.relative_to(DOCS))
        for path in DOCS.rglob("*.md")
        if "hooks" not in path.relative_to(DOCS).parts
    }
    assert pages - in_nav == set(), "pages missing from mkdocs.yml's nav"
    assert in_nav - pages == set(), "nav entries without a page"


@pytest.mark.parametrize("field", sorted(SweepSpec.model_fields))
def test_spec_reference_names_every_top_level_field(site: Path, field: str):
    html = (site / "reference" / "spec" / "index.html").read_text()
    assert f"<code>{field}</code>" in html, (
        f"the generated spec reference does not name sweep.{field}: see docs/hooks/spec_reference.py"
    )


def test_spec_reference_names_every_nested_field(site: Path):
    """Every key of every part (split, preprocessing, estimators, tracking...) has a row."""
    html = (site / "reference" / "spec" / "index.html").read_text()
    assert "<!-- spec-reference -->" not in html, "the hook left its marker in the page"
    parts = SweepSpec.model_json_schema()["$defs"]
    missing = [
        f"{part}.{key}"
        for part, schema in parts.items()
        for key in schema.get("properties", {})
        if f".{key}</code>" not in html
    ]
    assert missing == []


def test_readme_is_a_short_front_door():
    text = (REPO / "README.md").read_text()
    lines = len(text.splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; keep it at most {README_MAX_LINES} and move reference to docs/"
    )
    for needed in ("bash scripts/demo.sh", "bash scripts/test.sh", "Python 3.11", "Java 17"):
        assert needed in text, f"README.md no longer says {needed!r}"
    assert "mkdocs serve" in text and "docs/" in text, "README.md must say where the docs are"
