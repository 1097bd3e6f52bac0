"""Identical models give identical bytes: skops files rewritten into a canonical form.

skops names each array file, and tags each node, with the ``id()`` of the Python object it came
from, and zips the files with the time of writing; two builds of the same model on the same data
gave different ``model`` bytes for every winner (issue 17). :func:`canonical_skops` renumbers the ids
in order of first appearance in the schema and zips every file with a fixed time, in one order, so
the bytes depend on the model only. skops loads the result as it loads its own files.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

__all__ = ["canonical_skops"]

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
        ids: dict[str, str] = {}
        _renumber(schema, ids)
        files = {
            _renamed(info.filename, ids): source.read(info)
            for info in source.infolist()
            if info.filename != _SCHEMA
        }
        compression = (
            source.infolist()[0].compress_type if source.infolist() else zipfile.ZIP_STORED
        )
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
    elif isinstance(node, list):
        for item in node:
            _renumber(item, ids)


def _renamed(filename: str, ids: dict[str, str]) -> str:
    stem, dot, suffix = filename.partition(".")
    if not stem.isdigit():
        return filename
    return ids.setdefault(stem, str(len(ids) + 1)) + dot + suffix
