"""mkdocs hook: render the sweep spec reference from the code, at build time.

The page ``docs/reference/spec.md`` holds the marker ``<!-- spec-reference -->``; this hook replaces
it with tables generated from :meth:`dbt_sweep.spec.SweepSpec.model_json_schema` (every key, its type,
constraint, default and description), the metric registry :data:`dbt_sweep.metrics.METRICS`, the
default metrics per task (read from a validated minimal spec) and the reserved column names of
:mod:`dbt_sweep.spec.columns`. Nothing here is typed by hand, so the page cannot drift from the
spec models: change a field and the next ``mkdocs build`` shows it.
"""

from __future__ import annotations

import json
from typing import Any

MARKER = "<!-- spec-reference -->"

# The spec's parts, in the order the page lists them, with the key path each part sits at.
# A part the schema has but this list lacks is still rendered (after these), under its class name.
PATHS = {
    "EstimatorSpec": "sweep.estimators[i]",
    "SpaceDim": "sweep.estimators[i].space.<param>",
    "HalvingSpec": "sweep.estimators[i].halving",
    "PruningSpec": "sweep.estimators[i].pruning",
    "FeaturesExclude": "sweep.features",
    "PreprocessingSpec": "sweep.preprocessing",
    "ImputeSpec": "sweep.preprocessing.impute",
    "OneHotSpec": "sweep.preprocessing.one_hot",
    "SelectKBestSpec": "sweep.preprocessing.select_k_best",
    "RandomSplit": "sweep.split (kind: random)",
    "TimeSplit": "sweep.split (kind: time)",
    "KFoldSplit": "sweep.split (kind: kfold)",
    "TrackingSpec": "sweep.tracking",
}


def _anchor(name: str) -> str:
    return f"spec-{name.lower()}"


def _code(value: Any) -> str:
    """A JSON value as inline code (``null``, ``true``, ``'auto'`` as YAML users write them)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{text}`"


def _bounds(schema: dict[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is None and high is None:
        return ""
    if low is not None and high is not None:
        left = "[" if "minimum" in schema else "("
        right = "]" if "maximum" in schema else ")"
        return f" in {left}{low}, {high}{right}"
    if low is not None:
        return f" {'≥' if 'minimum' in schema else '>'} {low}"
    return f" {'≤' if 'maximum' in schema else '<'} {high}"


def _type(schema: dict[str, Any]) -> str:
    """Word a JSON schema as a short type phrase with its constraints, linking the spec's parts."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"mapping: [`{PATHS.get(name, name)}`](#{_anchor(name)})"
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = schema[combinator]
            words = [_type(option) for option in options if option.get("type") != "null"]
            nullable = len(words) < len(options)
            return " or ".join(words) + (" or `null`" if nullable else "")
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(_code(value) for value in schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        text = "non-empty string" if schema.get("minLength") == 1 else "string"
        if "pattern" in schema:
            text += f" matching `{schema['pattern']}`"
        return text
    if kind == "integer":
        return "int" + _bounds(schema)
    if kind == "number":
        return "float" + _bounds(schema)
    if kind == "boolean":
        return "bool"
    if kind == "array":
        items = schema.get("items") or {}
        low, high = schema.get("minItems"), schema.get("maxItems")
        size = ""
        if low is not None and low == high:
            size = f" of exactly {low}"
        elif low:
            size = f" of at least {low}"
        inner = _type(items) if items else "any value"
        return f"list{size} ({inner})"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return f"mapping of name → {_type(extra) if extra else 'any value'}"
        return "mapping of name → any value"
    return "any value"


def _cell(text: str) -> str:
    """Text safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "&#124;")


def _prose(text: str) -> str:
    """Prose for a table cell: braces escaped, since attr_list reads a trailing ``{...}`` as
    attributes and drops it from the text."""
    return _cell(text).replace("{", "&#123;").replace("}", "&#125;")


def _doc(text: str | None) -> str:
    """A docstring as Markdown: reST double backquotes become code, roles lose their prefix."""
    if not text:
        return ""
    text = text.replace("``", "`")
    for role in (":mod:", ":class:", ":func:", ":meth:"):
        text = text.replace(role, "")
    return text


def _table(schema: dict[str, Any], *, prefix: str) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| key | type and constraint | default | description |", "|---|---|---|---|"]
    for name, field in schema.get("properties", {}).items():
        if name in required:
            default = "**required**"
        elif "default" in field:
            default = _code(field["default"])
        else:
            default = ""
        lines.append(
            f"| `{prefix}{name}` | {_cell(_type(field))} | {_cell(default)} "
            f"| {_prose(_doc(field.get('description')))} |"
        )
    return lines


def _part_sections(schema: dict[str, Any]) -> list[str]:
    defs = schema.get("$defs", {})
    order = [name for name in PATHS if name in defs] + sorted(set(defs) - set(PATHS))
    lines: list[str] = []
    for name in order:
        part = defs[name]
        path = PATHS.get(name, name)
        lines += [f"### `{path}` {{ #{_anchor(name)} }}", ""]
        if part.get("description"):
            lines += [_doc(part["description"]), ""]
        lines += _table(part, prefix=path.split(" (", 1)[0] + ".")
        lines += [""]
    return lines


def _metric_section() -> list[str]:
    from dbt_sweep.metrics import METRICS
    from dbt_sweep.spec import parse_spec

    needs = {
        "predict": "`predict`",
        "proba": "`predict_proba`",
        "score": "`predict_proba` (or `decision_function` for two classes)",
    }
    lines = [
        "## Metrics { #spec-metrics }",
        "",
        "The names `sweep.metrics` and `sweep.primary_metric` accept, from `dbt_sweep.metrics.METRICS`. "
        "The direction decides which run wins a group.",
        "",
        "| metric | task | direction | needs |",
        "|---|---|---|---|",
    ]
    for name, metric in METRICS.items():
        lines.append(f"| `{name}` | {metric.task} | {metric.direction} | {needs[metric.needs]} |")
    lines += [
        "",
        "Without `metrics`, a spec gets its task's defaults (the first is the primary metric):",
        "",
    ]
    for task in ("regression", "classification"):
        minimal = {
            "source": "s", "group_by": "g", "target": "y", "task": task,
            "estimators": [{"estimator": "sklearn.dummy.DummyRegressor" if task == "regression"
                            else "sklearn.dummy.DummyClassifier"}],
        }  # fmt: skip
        spec = parse_spec(minimal, model="m")
        lines.append(f"- `{task}`: `{spec.metrics}`, primary metric `{spec.primary_metric}`")
    return [*lines, ""]


def _reserved_section() -> list[str]:
    from dbt_sweep.spec.columns import INTERNAL_COLUMNS, PREDICTION_COLUMNS, RUN_COLUMNS

    def names(values: Any) -> str:
        return ", ".join(f"`{value}`" for value in sorted(values))

    return [
        "## Reserved column names { #spec-reserved }",
        "",
        "From `dbt_sweep.spec.columns`. A feature may be named anything; these names are refused where "
        "they would collide with a column dbt-sweep writes.",
        "",
        f"- **group columns** (`sweep.group_by`) must not be one of: {names(RUN_COLUMNS)}, "
        "nor a metric name of the spec.",
        f"- **the key** (`sweep.key`) must not be one of: {names(PREDICTION_COLUMNS)}.",
        f"- **the feature table** must not have columns named: {names(INTERNAL_COLUMNS)}.",
        "",
    ]


def render() -> str:
    """Return the generated reference as Markdown."""
    from dbt_sweep.spec import SweepSpec

    schema = SweepSpec.model_json_schema()
    lines = [
        "## Top-level keys { #spec-sweep }",
        "",
        f"The keys of a model's `sweep` config (`{SweepSpec.__module__}.SweepSpec`). Unknown keys are "
        "refused and values are not coerced (`'0.2'` is not a float).",
        "",
        *_table(schema, prefix=""),
        "",
        "## Parts of the spec { #spec-parts }",
        "",
        *_part_sections(schema),
        *_metric_section(),
        *_reserved_section(),
    ]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs event: replace the marker of the spec reference page with the generated tables."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
