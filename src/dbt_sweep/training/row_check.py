"""Hold each manifest row against the spec it was built from, before anything of it is imported.

A worker trains what a ``sweep_manifest`` row says: it imports the row's ``estimator`` path and
calls it with the row's ``params``. The spec's allowlist is checked when the spec is parsed, but the
table can be rewritten after that; a row naming ``subprocess.getoutput`` with params
``{"cmd": "..."}`` ran a shell command on the worker (issue 17). So a row is accepted only if
:func:`dbt_sweep.manifest.build_manifest` would write it from the spec: the estimator name, path and
search of one of ``sweep.estimators``, and params equal to one of the runs that entry expands to
(a grid point merged with the fixed params, or a search run's fixed params plus ``space``,
``trials``, ``seed``, ``halving``, ``grid``, ``pruning``). The comparison is on strings and parsed
JSON only: nothing is imported before the row is accepted.

The expected runs are built once per spec object (and once per distinct spec on a worker that
deserialises the spec for every task), so checking a row costs a dict lookup and a JSON parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dbt_sweep.exceptions import SweepDataError
from dbt_sweep.manifest import build_manifest
from dbt_sweep.spec import SweepSpec, spec_hash

__all__ = ["check_manifest", "check_manifest_row", "manifest_row_problems"]

_MAX_SHOWN = 200  # characters of a received value quoted in a message
_CACHED_SPECS = 8
# what a row's verdict depends on (run_key only names the row in a message)
_CONFIG = ("estimator_name", "estimator", "search", "params")


@dataclass(frozen=True)
class _Entry:
    """What the rows of one ``sweep.estimators[i]`` entry may say."""

    key: str  # "sweep.estimators[i]"
    name: str
    estimator: str
    search: str
    params: frozenset[str]  # canonical JSON of each run's params
    example: str  # the first run's params as build_manifest writes them


def _canonical(text: Any) -> str | None:
    """``params`` as sorted-key JSON, or None when it is not a JSON object."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict) else None


def _entries(spec: SweepSpec) -> dict[str, _Entry]:
    """Each estimator name -> its entry, from the rows build_manifest writes for one group.

    A run's params depend on the spec's estimator entry only, never on the group (its key values,
    rows or shard), so one stand-in group gives every row's estimator, search and params.
    """
    groups = pd.DataFrame(
        {
            **{column: ["row_check"] for column in spec.group_by},
            "n_rows": [max(spec.min_rows, 100)],
            "data_fingerprint": ["row_check"],
        }
    )
    rows = build_manifest(spec, groups, parallelism=1)
    entries = {}
    for i, est in enumerate(spec.estimators):
        name = str(est.name)
        mine = rows[rows["estimator_name"] == name]
        entries[name] = _Entry(
            key=f"sweep.estimators[{i}]",
            name=name,
            estimator=est.estimator,
            search=est.search,
            params=frozenset(str(_canonical(text)) for text in mine["params"]),
            example=str(mine["params"].iloc[0]),
        )
    return entries


_BY_HASH: dict[str, dict[str, _Entry]] = {}
_LAST: list[tuple[SweepSpec, dict[str, _Entry]]] = []


def _expected(spec: SweepSpec) -> dict[str, _Entry]:
    """The entries of ``spec``: by identity first (free), then by spec hash (one JSON dump)."""
    if _LAST and _LAST[0][0] is spec:
        return _LAST[0][1]
    digest = spec_hash(spec)
    entries = _BY_HASH.get(digest)
    if entries is None:
        if len(_BY_HASH) >= _CACHED_SPECS:
            _BY_HASH.clear()
        entries = _BY_HASH[digest] = _entries(spec)
    _LAST[:] = [(spec, entries)]
    return entries


def _shown(value: Any) -> str:
    """``repr`` of a received value, a long string cut (a rewritten cell can be megabytes)."""
    if isinstance(value, str) and len(value) > _MAX_SHOWN:
        value = f"{value[:_MAX_SHOWN]}..."
    return repr(value)


def _problem(
    column: str, row: Mapping[str, Any], manifest: str, must: str, got: Any, note: str = ""
) -> str:
    return (
        f"The '{column}' of row {_shown(row.get('run_key'))} in model '{manifest}' must be {must}. "
        f"Got {_shown(got)} instead{note}; rebuild {manifest} from the spec (dbt build -s {manifest}+)."
    )


def _row_problem(
    row: Mapping[str, Any], entries: Mapping[str, _Entry], allowed: tuple[str, ...], manifest: str
) -> str | None:
    name = row.get("estimator_name")
    entry = entries.get(name) if isinstance(name, str) else None
    if entry is None:
        must = f"one of the sweep spec's estimators {list(entries)}"
        return _problem("estimator_name", row, manifest, must, name)
    estimator = row.get("estimator")
    if estimator != entry.estimator:
        must = f"{entry.estimator!r}, the path {entry.key} ({entry.name!r}) names"
        note = ""
        if not (isinstance(estimator, str) and estimator.startswith(allowed)):
            note = f", which is not in the estimator allowlist {list(allowed)}"
        return _problem("estimator", row, manifest, must, estimator, note)
    if not entry.estimator.startswith(allowed):  # a spec never parsed: parse_spec refuses these
        must = f"in the estimator allowlist {list(allowed)}"
        return _problem("estimator", row, manifest, must, estimator)
    if row.get("search") != entry.search:
        must = f"{entry.search!r}, the search {entry.key} ({entry.name!r}) runs"
        return _problem("search", row, manifest, must, row.get("search"))
    if _canonical(row.get("params")) not in entry.params:
        n = len(entry.params)
        must = (
            f"{entry.example!r}, the params {entry.key} ({entry.name!r}) gives"
            if n == 1
            else f"one of the {n} parameter sets {entry.key} ({entry.name!r}) gives, such as {entry.example!r}"
        )
        return _problem("params", row, manifest, must, row.get("params"))
    return None


def check_manifest_row(
    row: Mapping[str, Any], spec: SweepSpec, *, manifest: str = "sweep_manifest"
) -> str | None:
    """Say why a manifest row is not one the spec produces, or return None for a good row.

    Call it before anything of the row is imported or built: it compares strings and JSON only.

    Parameters
    ----------
    row : mapping
        One manifest row (a ``to_dict("records")`` item or a pandas Series) with ``run_key``,
        ``estimator_name``, ``estimator``, ``search`` and ``params``.
    spec : SweepSpec
        The validated spec the manifest was built from.
    manifest : str, default="sweep_manifest"
        The manifest model's name, for the message and its remedy.

    Returns
    -------
    str or None
        One sentence naming the column, the row's ``run_key``, what the spec allows, the value
        received and the remedy (rebuild the manifest); None when the row is one of the spec's.

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "feat", "group_by": "g", "target": "y", "task": "regression",
    ...     "estimators": [{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 1.0]}}]},
    ...     model="sweep_runs")
    >>> row = {"run_key": "k1", "estimator_name": "ridge", "estimator": "sklearn.linear_model.Ridge",
    ...        "search": "grid", "params": '{"alpha": 1.0}'}
    >>> check_manifest_row(row, spec) is None
    True
    >>> print(check_manifest_row({**row, "estimator": "subprocess.getoutput"}, spec))
    The 'estimator' of row 'k1' in model 'sweep_manifest' must be 'sklearn.linear_model.Ridge', the path sweep.estimators[0] ('ridge') names. Got 'subprocess.getoutput' instead, which is not in the estimator allowlist ['sklearn.']; rebuild sweep_manifest from the spec (dbt build -s sweep_manifest+).
    """
    return _row_problem(row, _expected(spec), tuple(spec.allowed_modules), manifest)


def manifest_row_problems(
    rows: pd.DataFrame, spec: SweepSpec, *, manifest: str = "sweep_manifest"
) -> list[str | None]:
    """:func:`check_manifest_row` for every row of a manifest frame, in order.

    Parameters
    ----------
    rows : DataFrame
        Manifest rows (a work unit's, or the whole manifest's identity columns).
    spec : SweepSpec
        The validated spec the manifest was built from.
    manifest : str, default="sweep_manifest"
        The manifest model's name, for the messages.

    Returns
    -------
    list of str or None
        One entry per row: the problem, or None for a row the spec produces.
    """
    entries, allowed = _expected(spec), tuple(spec.allowed_modules)
    columns = [c for c in _CONFIG if c in rows.columns]
    # Rows of one configuration pass or fail together; a work unit repeats its few configurations
    # in every group, so each distinct one is checked once and only a failing one row by row
    # (its messages name each row's run_key).
    verdicts: dict[tuple[Any, ...], bool] = {}
    problems: list[str | None] = []
    for row in rows[[c for c in ("run_key", *_CONFIG) if c in rows.columns]].to_dict("records"):
        config = tuple(repr(row.get(c)) for c in columns)
        if verdicts.get(config) is True:
            problems.append(None)
            continue
        problem = _row_problem(row, entries, allowed, manifest)
        verdicts[config] = problem is None
        problems.append(problem)
    return problems


def check_manifest(
    rows: pd.DataFrame, spec: SweepSpec, *, manifest: str = "sweep_manifest"
) -> None:
    """Raise unless every manifest row is one the spec produces (on the driver, before training).

    Parameters
    ----------
    rows : DataFrame
        The manifest's ``run_key``, ``estimator_name``, ``estimator``, ``search`` and ``params``;
        distinct rows of these suffice.
    spec : SweepSpec
        The validated spec the manifest was built from.
    manifest : str, default="sweep_manifest"
        The manifest model's name, for the message.

    Raises
    ------
    SweepDataError
        Naming how many rows do not match, then the first one's problem.
    """
    problems = [p for p in manifest_row_problems(rows, spec, manifest=manifest) if p is not None]
    if problems:
        raise SweepDataError(
            f"{len(problems)} of {len(rows)} run configurations in model '{manifest}' are not "
            f"runs of the sweep spec, so none is trained. The first: {problems[0]}"
        )
