"""Running a model's compiled code in-process, with tracebacks that point at the model's own file.

dbt-duckdb loads the compiled code as a module for the same reason: a failing model must show its own
file and line. We compile the code under the model's path (``python_models/x.py``) and register the
compiled source with ``linecache``; the compiled code starts with the model file verbatim, so the
line numbers of the user's code are the file's own.
"""

from __future__ import annotations

import linecache
import traceback
from typing import Any

from dbt_common.exceptions import DbtRuntimeError


def run_compiled_code(
    compiled_code: str, *, raw_code: str, filename: str, module_name: str, spark: Any
) -> None:
    """Execute ``compiled_code`` with ``spark`` as a global, as dbt's materialization code expects.

    The module name is deliberately not in ``sys.modules``, so functions the model defines (e.g. for
    ``applyInPandas``) are pickled by value when Spark ships them to its Python workers.
    """
    compiled_code = align_to_model_file(compiled_code, raw_code)
    linecache.cache[filename] = (
        len(compiled_code),
        None,  # no mtime: linecache.checkcache keeps the entry though the file on disk differs
        compiled_code.splitlines(keepends=True),
        filename,
    )
    namespace: dict[str, Any] = {"__name__": module_name, "__file__": filename, "spark": spark}
    exec(compile(compiled_code, filename, "exec"), namespace)


def align_to_model_file(compiled_code: str, raw_code: str) -> str:
    """Drop what the materialization put before the model's own code (blank lines, the indentation
    of dbt's ``statement`` block), so line N of the compiled code is line N of the model file."""
    start = compiled_code.find(raw_code) if raw_code else -1
    return compiled_code[start:] if start >= 0 else compiled_code.lstrip()


def model_traceback(exc: BaseException, *, filename: str) -> str:
    """Format ``exc`` from the first frame in the model's file on: the plugin's frames are noise."""
    formatted = traceback.TracebackException.from_exception(exc)
    frames = list(formatted.stack)
    first = next((i for i, frame in enumerate(frames) if frame.filename == filename), 0)
    formatted.stack = traceback.StackSummary.from_list(frames[first:])
    return "".join(formatted.format())


def wrap_failure(exc: BaseException, *, model: str, filename: str) -> DbtRuntimeError:
    """One error that starts with the model name and carries the model's traceback."""
    return DbtRuntimeError(
        f"Python model '{model}' failed:\n{model_traceback(exc, filename=filename)}".rstrip()
    )
