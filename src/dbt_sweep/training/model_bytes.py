"""Identical models give identical bytes: skops files rewritten into a canonical form.

skops names each array file, and tags each node, with the ``id()`` of the Python object it came
from, and zips the files with the time of writing; two builds of the same model on the same data
gave different ``model`` bytes for every winner (issue 17). :func:`canonical_skops` renumbers the ids
in order of first appearance in the schema and zips every file with a fixed time, in one order, so
the bytes depend on the model only. skops loads the result as it loads its own files.

:func:`dump_canonical` writes that form directly: skops's own ``dumps`` encodes its schema with
``json.dumps(indent=2)``, which takes Python's slow encoder and cost 70% of serialising a small
pipeline; the canonical form is compact JSON anyway. It walks the model with skops's state
functions (the same that ``dumps`` uses) and falls back to ``canonical_skops(skops.io.dumps(obj))``
if a skops release moves them; both give the same bytes (a unit test holds that).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

__all__ = ["canonical_skops", "dump_canonical"]

_SCHEMA = "schema.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


def canonical_skops(data: bytes) -> bytes:
    """Rewrite skops bytes so that equal models give equal bytes.

    Parameters
    ----------
    data : bytes
        What ``skops.io.dumps`` returned.

    Returns
    -------
    bytes
        The same model; object ids renumbered 1, 2, ... in schema order, entries in a fixed
        order with a fixed time.

    Examples
    --------
    >>> import skops.io as sio
    >>> from sklearn.linear_model import LinearRegression
    >>> model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    >>> canonical_skops(sio.dumps(model)) == canonical_skops(sio.dumps(model))
    True
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read(_SCHEMA))
        files = {info.filename: source.read(info) for info in source.infolist()}
        compression = (
            source.infolist()[0].compress_type if source.infolist() else zipfile.ZIP_STORED
        )
    files.pop(_SCHEMA, None)
    return _canonical_zip(schema, files, compression)


def dump_canonical(obj: Any) -> bytes:
    """Serialise ``obj`` straight into canonical skops bytes.

    Equal to ``canonical_skops(skops.io.dumps(obj))``, at about a third of its cost.

    Examples
    --------
    >>> import skops.io as sio
    >>> from sklearn.linear_model import LinearRegression
    >>> model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    >>> dump_canonical(model) == canonical_skops(sio.dumps(model))
    True
    """
    try:
        import skops
        from skops.io._utils import SaveContext, get_state
    except ImportError:  # a skops release that moved them: the slower public path
        import skops.io as sio

        return canonical_skops(sio.dumps(obj))
    files = _Files()
    context = SaveContext(zip_file=files)  # type: ignore[arg-type]
    state = get_state(obj, context)
    context.clear_memo()
    state["protocol"] = context.protocol
    state["_skops_version"] = skops.__version__
    return _canonical_zip(state, files, zipfile.ZIP_STORED)


class _Files(dict):  # type: ignore[type-arg]
    """What skops's state functions write into a zip file (``writestr``, ``namelist``), kept in
    memory: the canonical zip is written once, after renumbering."""

    def writestr(self, name: str, data: Any) -> None:
        self[name] = bytes(data)

    def namelist(self) -> list[str]:
        return list(self)


def _canonical_zip(schema: Any, files: dict[str, bytes], compression: int) -> bytes:
    """The canonical zip of a skops schema and its files: ids renumbered in schema order, files in
    name order after the schema, one fixed time."""
    ids: dict[str, str] = {}
    _renumber(schema, ids)
    files = {_renamed(name, ids): content for name, content in files.items()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, content in [
            (_SCHEMA, json.dumps(schema, separators=(",", ":")).encode()),
            *sorted(files.items()),
        ]:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            target.writestr(info, content)
    return out.getvalue()


def _renumber(node: Any, ids: dict[str, str]) -> None:
    """Replace every ``__id__`` and array ``file`` name by its number in order of appearance."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "__id__":
                node[key] = int(ids.setdefault(str(value), str(len(ids) + 1)))
            elif key == "file" and isinstance(value, str):
                node[key] = _renamed(value, ids)
            else:
                _renumber(value, ids)
    elif isinstance(node, list | tuple):  # tuples: a state not yet through JSON
        for item in node:
            _renumber(item, ids)


def _renamed(filename: str, ids: dict[str, str]) -> str:
    stem, dot, suffix = filename.partition(".")
    if not stem.isdigit():
        return filename
    return ids.setdefault(stem, str(len(ids) + 1)) + dot + suffix
