"""What every part of the sweep spec is built from: the base model, the column and metric types, and
:func:`doc`, a field's reference text.

A field's pydantic ``description`` is the expectation its validation errors word ("must be
<description>. Got ... instead.", :mod:`dbt_sweep.spec.problems`); what the field does is its
reference text, given with :func:`doc`, which the JSON schema (and so docs/reference/spec.md) shows.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

__all__ = ["Column", "MetricName", "SpecModel", "doc"]

Column = Annotated[str, Field(min_length=1)]
MetricName = Literal["mae", "rmse", "r2", "mape", "accuracy", "f1", "roc_auc", "log_loss"]


def doc(text: str) -> JsonDict:
    """Return a field's reference text, to pass as its ``json_schema_extra``.

    Parameters
    ----------
    text : str
        What the field does, its allowed values and what its default means.

    Returns
    -------
    dict
        ``{"description": text}``: the field's ``description`` in the JSON schema, which the spec
        reference renders. The pydantic ``description`` (the error wording) is left alone.

    Examples
    --------
    >>> from pydantic import Field
    >>> class Part(SpecModel):
    ...     k: int = Field(ge=1, description="an int >= 1", json_schema_extra=doc("Features kept."))
    >>> Part.model_json_schema()["properties"]["k"]["description"]
    'Features kept.'
    >>> Part.model_fields["k"].description
    'an int >= 1'
    """
    return {"description": text}


class SpecModel(BaseModel):
    """A part of the spec: unknown keys are refused and values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)
