"""From a raw ``sweep`` config to a :class:`~dbt_sweep.spec.SweepSpec`, and the spec's stable hash.

:func:`parse_spec` is the one way in: it validates ``dbt.config.get("sweep")`` and raises one
:class:`~dbt_sweep.exceptions.SweepSpecError` naming every problem's key path. :func:`spec_hash`
fingerprints a parsed spec for the manifest and MLflow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from dbt_sweep.exceptions import SpecProblem, SweepSpecError
from dbt_sweep.spec.models import SweepSpec
from dbt_sweep.spec.problems import problems_from_validation

__all__ = ["canonical_hash", "parse_spec", "spec_hash"]


def parse_spec(raw: Mapping[str, Any] | None, *, model: str) -> SweepSpec:
    """Validate a raw ``sweep`` config into a :class:`SweepSpec`.

    Parameters
    ----------
    raw : mapping or None
        The value of ``dbt.config.get("sweep")``.
    model : str
        The dbt model name, used in error messages.

    Returns
    -------
    SweepSpec

    Raises
    ------
    SweepSpecError
        With one line per problem, each naming the key path (``sweep.estimators[1].grid.C``).

    Examples
    --------
    >>> spec = parse_spec(
    ...     {"source": "feat_demo", "group_by": "g", "target": "y", "task": "regression",
    ...      "estimators": [{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 1.0]}}]},
    ...     model="sweep_runs",
    ... )
    >>> spec.group_by, spec.metrics, spec.primary_direction
    (['g'], ['mae', 'rmse', 'r2'], 'minimize')
    """
    if raw is None:
        problem = SpecProblem(
            "sweep",
            "is missing: the model has no `sweep` config. Got None instead; "
            "declare it under the model's config in YAML (sweep: {...}).",
        )
        raise SweepSpecError([problem], model=model)
    if not isinstance(raw, Mapping):
        raise SweepSpecError(
            [SpecProblem("sweep", f"must be a mapping. Got {raw!r} instead.")], model=model
        )
    try:
        return SweepSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise SweepSpecError(problems_from_validation(exc, SweepSpec), model=model) from None


def spec_hash(spec: SweepSpec) -> str:
    """Return a stable 16-hex-digit sha256 of the spec's canonical JSON."""
    return canonical_hash(spec.model_dump(mode="json"))


def canonical_hash(obj: Any) -> str:
    """Return sha256[:16] of ``obj`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
