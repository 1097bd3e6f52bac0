"""Exceptions raised by dbt-sweep.

Each exception builds its message in ``__init__`` from structured parts, so
every caller words the same problem the same way (skops ``io/exceptions.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SpecProblem",
    "SweepDataError",
    "SweepSpecError",
    "TrackingError",
    "UntrustedModelError",
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
