"""Rewrite one model's ``columns:`` block in a dbt YAML file, and nothing else of the file.

The file is read with PyYAML's composer, which knows where each node starts and ends; only the
lines of the model's ``columns:`` block are replaced, so comments, anchors (``&regression_sweep``),
quoting and the order of everything else stay as written. Each generated column keeps, verbatim,
every key of the existing column other than ``name``, ``data_type`` and ``description`` (its
``data_tests``, ``constraints``, ``meta``...). ruamel.yaml would round-trip the whole file, but it is
not a dependency of dbt or of dbt-sweep, and only one block ever changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

__all__ = ["ColumnEntry", "ModelColumns", "read_columns", "replace_columns"]

#: The keys a generated column sets; every other key of an existing column is kept.
GENERATED_KEYS = ("name", "data_type", "description")


@dataclass(frozen=True)
class ColumnEntry:
    """A column as written: its generated keys and the other keys' original text (one line each)."""

    name: str
    data_type: str | None = None
    description: str | None = None
    kept: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass
class ModelColumns:
    """Where a model's columns block is in the file, and what it holds."""

    columns: list[ColumnEntry] = field(default_factory=list)
    start: int = 0  # first line of the block (the `columns:` key), or where to insert one
    end: int = 0  # line after the block
    key_prefix: str = "    "  # the text before `columns:` on its line
    item_indent: int = 6  # column of the `-` of each column


def read_columns(text: str, model: str) -> ModelColumns:
    """Find ``model``'s entry in a ``models:`` YAML file and read its columns block.

    Raises
    ------
    KeyError
        When the file has no ``models:`` entry named ``model``.
    """
    lines = text.splitlines()
    root = yaml.compose(text)
    item = _model_item(root, model)
    pairs = {key.value: (key, value) for key, value in item.value}
    name_key = pairs["name"][0]
    key_col = name_key.start_mark.column
    if "columns" not in pairs:
        at = pairs["data_tests"][0].start_mark.line if "data_tests" in pairs else None
        if at is None:
            at = max(_end_line(lines, value.end_mark) for _, value in item.value)
        return ModelColumns(start=at, end=at, key_prefix=" " * key_col, item_indent=key_col + 2)
    key, value = pairs["columns"]
    prefix = lines[key.start_mark.line][: key.start_mark.column]
    block = ModelColumns(
        start=key.start_mark.line,
        end=_end_line(lines, value.end_mark),
        key_prefix=prefix,
        item_indent=key.start_mark.column + 2,
    )
    if isinstance(value, yaml.SequenceNode) and value.value:
        if not value.flow_style:
            block.item_indent = value.start_mark.column
        block.columns = [_entry(lines, node) for node in value.value]
    return block


def replace_columns(text: str, model: str, columns: Sequence[ColumnEntry]) -> str:
    """Return ``text`` with ``model``'s columns block written from ``columns``."""
    block = read_columns(text, model)
    lines = text.splitlines()
    new = [block.key_prefix + "columns:"]
    for column in columns:
        new += render_column(column, block.item_indent)
    out = [*lines[: block.start], *new, *lines[block.end :]]
    return "\n".join(out) + ("\n" if text.endswith("\n") or not text else "")


def render_column(column: ColumnEntry, item_indent: int) -> list[str]:
    """The lines of one column at ``item_indent`` (the column of its ``-``)."""
    pad = " " * (item_indent + 2)
    out = [" " * item_indent + "- name: " + _scalar(column.name)]
    if column.data_type is not None:
        out.append(f"{pad}data_type: {_scalar(column.data_type)}")
    if column.description is not None:
        out.append(f"{pad}description: {_scalar(column.description)}")
    for _, kept in column.kept:
        out += [pad + line if line.strip() else "" for line in kept]
    return out


def _model_item(root: yaml.Node | None, model: str) -> yaml.MappingNode:
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "models" and isinstance(value, yaml.SequenceNode):
                for item in value.value:
                    if isinstance(item, yaml.MappingNode) and any(
                        k.value == "name" and v.value == model for k, v in item.value
                    ):
                        return item
    raise KeyError(model)


def _entry(lines: list[str], node: yaml.Node) -> ColumnEntry:
    if not isinstance(node, yaml.MappingNode):
        return ColumnEntry(name=str(getattr(node, "value", "")))
    values: dict[str, str | None] = {}
    kept = []
    for key, value in node.value:
        if key.value in GENERATED_KEYS and isinstance(value, yaml.ScalarNode):
            values[key.value] = yaml.safe_load(yaml.serialize(value))
        else:
            kept.append((key.value, tuple(_pair_text(lines, key, value))))
    return ColumnEntry(
        name=str(values.get("name")),
        data_type=values.get("data_type"),
        description=values.get("description"),
        kept=tuple(kept),
    )


def _pair_text(lines: list[str], key: yaml.Node, value: yaml.Node) -> list[str]:
    """A key and its value as written, re-indented so that the key starts at column 0."""
    first, col = key.start_mark.line, key.start_mark.column
    last = _end_line(lines, value.end_mark)
    out = [lines[first][col:]]
    for line in lines[first + 1 : last]:
        indent = len(line) - len(line.lstrip(" "))
        out.append(line[min(col, indent) :])
    return out


def _end_line(lines: list[str], end: yaml.Mark) -> int:
    """The line after a node that ends at ``end``, without the blank and comment lines before it."""
    last = (
        end.line + 1
        if lines[end.line : end.line + 1] and lines[end.line][: end.column].strip()
        else end.line
    )
    while last > 0 and (not lines[last - 1].strip() or lines[last - 1].lstrip().startswith("#")):
        last -= 1
    return last


def _scalar(value: str) -> str:
    """``value`` as a one-line YAML scalar: plain when safe, else double-quoted."""
    if "{{" in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
