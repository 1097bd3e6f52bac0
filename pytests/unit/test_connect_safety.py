"""Spark Connect has no SparkContext and no RDD API: model and library code may use them only in the
classic-only places listed here, each behind an explicit ``pyspark.sql.utils.is_remote()`` guard.

The scan reads Python tokens (names), so the words in comments and docstrings do not count.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = [REPO / "src" / "dbt_sweep", REPO / "python_models"]
FORBIDDEN = {"sparkContext", "SparkContext", "rdd"}

# (file relative to the repository, function qualname) -> how the place is kept classic-only.
# A function listed here covers the functions nested in it.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "src/dbt_sweep/spark/columns.py",
        "parallelism",
    ): "is_remote(): Connect reads spark.sql.shuffle.partitions",
    (
        "src/dbt_sweep/spark/progress.py",
        "ProgressMonitor.__post_init__",
    ): "is_remote(): no accumulators on Connect",
    ("src/dbt_sweep/spark/progress.py", "ProgressMonitor._watch"): (
        "started by start() only when __post_init__ made accumulators, i.e. not is_remote()"
    ),
    ("src/dbt_sweep/plugin/spark_session.py", "_use_this_interpreter_for_local_workers"): (
        "called by get_spark_session only when not is_remote()"
    ),
    (
        "src/dbt_sweep/plugin/spark_session.py",
        "tagged_jobs",
    ): "is_remote(): Connect uses operation tags",
    ("src/dbt_sweep/plugin/shipping.py", "ship_package"): "is_remote(): Connect uses addArtifacts",
    ("src/dbt_sweep/plugin/workers.py", "start_warm_workers"): (
        "is_remote(): a Connect server's daemon is the server's to choose"
    ),
    ("src/dbt_sweep/plugin/workers.py", "_one_python_task"): (
        "started by start_warm_workers only after its is_remote() and local-master checks"
    ),
}
# Places whose function body itself need not mention is_remote (the guard is in the caller).
GUARDED_BY_CALLER = {
    ("src/dbt_sweep/spark/progress.py", "ProgressMonitor._watch"),
    ("src/dbt_sweep/plugin/spark_session.py", "_use_this_interpreter_for_local_workers"),
    ("src/dbt_sweep/plugin/workers.py", "_one_python_task"),
}


def _functions(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(first line, last line, qualname) of every function and method."""
    out: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _hits() -> list[tuple[str, int, str, str]]:
    """(file, line, name, enclosing function qualname or '<module>') of every forbidden name."""
    hits = []
    for root in SCANNED:
        for path in sorted(root.rglob("*.py")):
            source = path.read_text()
            functions = _functions(ast.parse(source))
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.NAME and token.string in FORBIDDEN:
                    line = token.start[0]
                    enclosing = [f for f in functions if f[0] <= line <= f[1]]
                    # innermost = the one starting last
                    qualname = max(enclosing)[2] if enclosing else "<module>"
                    hits.append((str(path.relative_to(REPO)), line, token.string, qualname))
    return hits


def _allowed(file: str, qualname: str) -> bool:
    return any(
        file == allowed_file and (qualname == name or qualname.startswith(name + "."))
        for allowed_file, name in ALLOWED
    )


def test_no_spark_context_or_rdd_outside_classic_only_places():
    offending = [
        f"{file}:{line} {name} (in {qualname})"
        for file, line, name, qualname in _hits()
        if not _allowed(file, qualname)
    ]
    assert offending == [], (
        "SparkContext / RDD API outside the classic-only places (Spark Connect has neither). Use a "
        "DataFrame API, or guard the use with pyspark.sql.utils.is_remote() and add the place to "
        "ALLOWED in this test with the reason:\n" + "\n".join(offending)
    )


def test_every_allowed_place_carries_its_is_remote_guard():
    for (file, qualname), reason in ALLOWED.items():
        path = REPO / file
        tree = ast.parse(path.read_text())
        spans = {name: (start, end) for start, end, name in _functions(tree)}
        assert qualname in spans, f"{file}: {qualname} no longer exists; update ALLOWED"
        if (file, qualname) in GUARDED_BY_CALLER:
            continue
        start, end = spans[qualname]
        body = "\n".join(path.read_text().splitlines()[start - 1 : end])
        assert "is_remote()" in body, f"{file}: {qualname} lost its is_remote() guard ({reason})"


def test_the_scan_sees_forbidden_names_in_code_but_not_in_comments(tmp_path):
    sample = '"""sparkContext in a docstring"""\n# spark.sparkContext in a comment\ndef f(spark):\n    return spark.sparkContext\n'
    names = [
        t.string
        for t in tokenize.generate_tokens(io.StringIO(sample).readline)
        if t.type == tokenize.NAME and t.string in FORBIDDEN
    ]
    assert names == ["sparkContext"]
