"""Spec problems through pydantic: carry cross-field problems in, turn validation errors out.

pydantic reports an invalid field as an error with a location (``("estimators", 1, "grid", "C")``)
and a type (``greater_than``). :func:`problems_from_validation` walks that location through the spec
models to a key path (``sweep.estimators[1].grid.C``) and words the type as sklearn does ("must be
..., Got ... instead."). Cross-field problems found in a model validator travel the other way:
:func:`problems_error` packs them into one pydantic error that :func:`problems_from_validation`
unpacks unchanged.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import PydanticCustomError

from dbt_sweep.exceptions import SpecProblem

__all__ = ["problems_error", "problems_from_validation"]

# pydantic error type -> what the value must be, as a noun phrase.
_EXPECTED = {
    "string_type": "a str",
    "string_too_short": "a non-empty str",
    "string_pattern_mismatch": "a str matching {pattern}",
    "int_type": "an int",
    "float_type": "a float",
    "bool_type": "a bool",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "literal_error": "one of {expected}",
    "greater_than": "greater than {gt}",
    "greater_than_equal": "greater than or equal to {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "less than or equal to {le}",
    "too_short": "a list with at least {min_length} value(s)",
}


def problems_error(problems: Sequence[SpecProblem]) -> PydanticCustomError:
    """Carry cross-field problems out of a model validator as one pydantic error.

    Parameters
    ----------
    problems : sequence of SpecProblem
        The problems a model validator found.

    Returns
    -------
    PydanticCustomError
        An error of type ``sweep_spec`` for the validator to raise; :func:`problems_from_validation`
        returns its problems unchanged.
    """
    text = "; ".join(f"{p.key} {p.detail}" for p in problems)
    return PydanticCustomError("sweep_spec", "{text}", {"text": text, "problems": problems})


def _strip(annotation: Any) -> Any:
    """Unwrap ``Annotated`` and ``X | None`` down to the underlying annotation."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _member(union: Any, tag: str) -> Any:
    """Return the union member that pydantic labels ``tag`` (a ``Tag`` or a ``kind`` literal)."""
    for member in typing.get_args(_strip(union)):
        meta = typing.get_args(member)[1:] if typing.get_origin(member) is typing.Annotated else ()
        if any(isinstance(m, Tag) and m.tag == tag for m in meta):
            return member
        base = _strip(member)
        if isinstance(base, type) and issubclass(base, BaseModel) and "kind" in base.model_fields:
            if tag in typing.get_args(base.model_fields["kind"].annotation):
                return base
    return None


def _walk(root: type[BaseModel], loc: Sequence[int | str]) -> tuple[list[int | str], Any, Any]:
    """Follow a pydantic error location through the spec models.

    Returns the display path (union member labels dropped), the pydantic field the
    location ends on (or None when it ends inside a list or dict), and the annotation
    the location ends on.
    """
    path: list[int | str] = []
    node: Any = root
    field = None
    expect_member = False
    for seg in loc:
        if expect_member:
            node, expect_member = _member(node, str(seg)), False
            continue
        field = None
        base = _strip(node)
        path.append(seg)
        if isinstance(base, type) and issubclass(base, BaseModel) and seg in base.model_fields:
            field = base.model_fields[seg]
            node = field.annotation
            for meta in field.metadata:  # discriminators are kept apart from the annotation
                node = typing.Annotated[node, meta]
            expect_member = typing.get_origin(_strip(node)) in (typing.Union, types.UnionType)
        elif typing.get_origin(base) in (list, dict):
            node = typing.get_args(base)[-1]
        else:
            node = None
    return path, field, node


def _format_path(path: Sequence[int | str]) -> str:
    """Write a display path as a key: ``["estimators", 1, "grid"]`` -> ``sweep.estimators[1].grid``."""
    return "sweep" + "".join(f"[{seg}]" if isinstance(seg, int) else f".{seg}" for seg in path)


def _min_length(annotation: Any) -> int:
    """Return the ``min_length`` an ``Annotated`` list declares (0 when it declares none)."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return 0
    metas = typing.get_args(annotation)[1:]
    lengths = [getattr(m, "min_length", None) for m in metas]
    lengths += [getattr(x, "min_length", None) for m in metas for x in getattr(m, "metadata", [])]
    return max([n for n in lengths if n] or [0])


def problems_from_validation(exc: ValidationError, root: type[BaseModel]) -> list[SpecProblem]:
    """Turn a pydantic ``ValidationError`` on ``root`` into spec problems with key paths.

    Errors on alternatives of one union (e.g. ``shards: auto | int``) share a key and
    are merged into one problem whose expectation lists the alternatives.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error raised validating a raw config into ``root``.
    root : type of pydantic.BaseModel
        The model that was validated, e.g. :class:`~dbt_sweep.spec.SweepSpec`.

    Returns
    -------
    list of SpecProblem
        One problem per key, in the order pydantic reported them; the problems a model
        validator raised with :func:`problems_error` are included unchanged.

    Examples
    --------
    >>> from pydantic import BaseModel, Field
    >>> class Split(BaseModel):
    ...     folds: int = Field(ge=2)
    >>> try:
    ...     Split.model_validate({"folds": 1})
    ... except ValidationError as exc:
    ...     problems_from_validation(exc, Split)
    [SpecProblem(key='sweep.folds', detail='must be greater than or equal to 2. Got 1 instead.')]
    """
    merged: dict[str, tuple[list[str], Any]] = {}
    problems: dict[str, SpecProblem] = {}
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        if error["type"] == "sweep_spec":
            problems.update({f"{p.key}#{p.detail}": p for p in ctx["problems"]})
            continue
        path, field, node = _walk(root, error["loc"])
        key = _format_path(path)
        if error["type"] == "missing":
            problems[key] = SpecProblem(key, "is required but missing; add it to the sweep config.")
        elif error["type"] == "extra_forbidden":
            parent = _walk(root, error["loc"][:-1])[2]
            valid = sorted(_strip(parent).model_fields) if parent is not None else []
            problems[key] = SpecProblem(key, f"is not a valid key. Valid keys are: {valid}.")
        elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            members = typing.get_args(_strip(node))
            tags = [typing.get_args(m.model_fields["kind"].annotation)[0] for m in members]
            got = error["input"].get("kind") if isinstance(error["input"], dict) else error["input"]
            problems[f"{key}.kind"] = SpecProblem(
                f"{key}.kind", f"must be one of {tags}. Got {got!r} instead."
            )
        else:
            if field is not None and field.description:
                expected = field.description
            elif error["type"] in ("list_type", "too_short") and _min_length(node) == 1:
                expected = "a list with at least one value"
            elif error["type"] in _EXPECTED:
                expected = _EXPECTED[error["type"]].format(**ctx)
            else:
                expected = f"valid ({error['msg']})"
            phrases, _ = merged.setdefault(key, ([], error["input"]))
            if expected not in phrases:
                phrases.append(expected)
    for key, (phrases, value) in merged.items():
        problems[key] = SpecProblem(key, f"must be {' or '.join(phrases)}. Got {value!r} instead.")
    return list(problems.values())
