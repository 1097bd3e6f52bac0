"""Every key of the sweep spec is described: the spec reference (docs/reference/spec.md) renders each
field's JSON-schema ``description``, so a field without one shows an empty cell."""

from __future__ import annotations

from typing import Any

import pytest

from dbt_sweep.spec import SweepSpec

SCHEMA = SweepSpec.model_json_schema()


def _fields() -> list[tuple[str, str, dict[str, Any]]]:
    """(part, key, field schema) for the top-level keys and the keys of every part in ``$defs``."""
    parts = {"SweepSpec": SCHEMA, **SCHEMA.get("$defs", {})}
    return [
        (part, key, field)
        for part, schema in parts.items()
        for key, field in schema.get("properties", {}).items()
    ]


FIELDS = _fields()


def test_the_schema_has_the_nested_parts():
    parts = {part for part, _, _ in FIELDS}
    assert {"SweepSpec", "EstimatorSpec", "TrackingSpec", "RandomSplit", "SpaceDim"} <= parts


@pytest.mark.parametrize(
    ("part", "key", "field"), FIELDS, ids=[f"{part}.{key}" for part, key, _ in FIELDS]
)
def test_every_field_has_a_description(part: str, key: str, field: dict[str, Any]):
    description = field.get("description")
    assert isinstance(description, str) and description.strip(), (
        f"{part}.{key} has no description in SweepSpec.model_json_schema(); give it one with "
        "json_schema_extra=doc(...) (see dbt_sweep.spec.base.doc)"
    )


def test_descriptions_are_sentences():
    """Reference text, not the short expectation phrase that validation errors word."""
    short = [
        f"{part}.{key}"
        for part, key, field in FIELDS
        if not str(field.get("description", "")).rstrip().endswith(".")
    ]
    assert short == []


def test_error_wording_is_not_the_reference_text():
    """A field's pydantic description stays the expectation its errors word ("must be ...")."""
    assert SweepSpec.model_fields["min_rows"].description == "an int >= 2"
    assert SweepSpec.model_fields["source"].description is None
