"""Exceptions raised by dbt-sweep.

Each exception builds its message in ``__init__`` from structured parts, so
every caller words the same problem the same way (skops ``io/exceptions.py``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Tag, ValidationError

__all__ = [
    "SpecProblem",
    "SweepDataError",
    "SweepSpecError",
    "TrackingError",
    "UntrustedModelError",
    "problems_from_validation",
]


@dataclass(frozen=True)
class SpecProblem:
    """One problem found in a sweep spec.

    Parameters
    ----------
    key : str
        Dotted key path of the offending value, starting with ``sweep``, e.g.
        ``"sweep.estimators[1].grid.C"``.
    detail : str
        The rest of the sentence after "The '<key>' key of the sweep spec in model
        '<model>'", e.g. ``"must be a float in the range (0.0, inf]. Got -1 instead."``.
    """

    key: str
    detail: str

    def render(self, model: str) -> str:
        """Return the full sentence for this problem in ``model``."""
        return f"The '{self.key}' key of the sweep spec in model '{model}' {self.detail}"


class SweepSpecError(ValueError):
    """Raised when a sweep spec is invalid or does not fit the feature table.

    The message has one line per problem; the first line is a complete message on
    its own, following sklearn's template: key, owner, what was expected, what was
    received, and a remedy where one exists.

    Parameters
    ----------
    problems : sequence of SpecProblem
        The problems found, most important first. Must not be empty.
    model : str
        Name of the dbt model whose ``sweep`` config was checked.
    """

    def __init__(self, problems: Sequence[SpecProblem], *, model: str) -> None:
        if not problems:
            raise ValueError("SweepSpecError needs at least one problem.")
        self.problems = tuple(problems)
        self.model = model
        super().__init__("\n".join(problem.render(model) for problem in self.problems))


class UntrustedModelError(TypeError):
    """Raised when a model blob holds types outside the allowed module prefixes.

    Parameters
    ----------
    types : sequence of str
        The offending fully qualified type names.
    allowed_modules : sequence of str
        The module prefixes that were allowed.
    """

    def __init__(self, types: Sequence[str], allowed_modules: Sequence[str]) -> None:
        self.types = sorted(types)
        self.allowed_modules = tuple(allowed_modules)
        super().__init__(
            f"The model blob contains types outside the allowed modules {list(allowed_modules)}: "
            f"{self.types}. Pass allowed_modules=... with their module prefixes only if you "
            "created the blob yourself or fully trust its source."
        )


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
    return "sweep" + "".join(f"[{seg}]" if isinstance(seg, int) else f".{seg}" for seg in path)


def _min_length(annotation: Any) -> int:
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


class SweepDataError(ValueError):
    """Raised when the feature table cannot be swept at all (e.g. it has no rows).

    Problems of single groups never raise: they become ``failed`` or ``skipped`` runs.
    """


class TrackingError(RuntimeError):
    """Raised when MLflow tracking fails and ``sweep.tracking.on_error`` is ``fail`` (the default).

    Parameters
    ----------
    uri : str
        The tracking URI that failed.
    action : str
        What was being done, e.g. ``"creating the parent run"``.
    cause : BaseException
        The underlying error.
    model : str
        The dbt model whose sweep was being tracked.
    """

    def __init__(self, uri: str, action: str, cause: BaseException, *, model: str) -> None:
        self.uri = uri
        self.model = model
        detail = f"{type(cause).__name__}: {cause}".strip()[:500]
        super().__init__(
            f"MLflow tracking for model '{model}' failed at tracking URI '{uri}' while {action}: "
            f"{detail}. Start the tracking server or fix sweep.tracking.uri / MLFLOW_TRACKING_URI; "
            "set sweep.tracking.on_error: warn to train and materialise without tracking."
        )
