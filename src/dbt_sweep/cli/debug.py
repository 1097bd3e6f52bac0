"""Debug one group in a plain Python process: the seed blog's "debug with one scenario".

``python -m dbt_sweep debug sweep_runs --group g03`` reads the model's sweep spec from the dbt
project, fetches the group's rows through dbt (so the profile, target and refs are the project's
own), and runs the same training function Spark runs, in this process: breakpoints in estimators or
in dbt_sweep work, and ``--pdb`` stops at a failing run's exception. With several group columns,
name each: ``--group region=north,store=s1`` (or ``--group region=north --group store=s1``).

Exit status: 0 when the group trained (failed runs are shown in the table), 2 when the command
line is wrong (an option, a group column, an estimator name), 1 when the project cannot give what
was asked (dbt fails, no such model, an invalid spec, a group without rows).
"""

from __future__ import annotations

import argparse
import decimal
import re
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from dbt_sweep.cli.project import ProjectError, add_dbt_options, dbt_args, load_spec
from dbt_sweep.exceptions import SweepSpecError
from dbt_sweep.spec import SweepSpec
from dbt_sweep.training import train_group

__all__ = ["DebugError", "check_estimator", "group_rows", "group_values", "load_spec", "main"]

# A comma starts a new column=value pair only when a `name=` follows it, so a value may hold commas:
# --group "name=Smith, J,store=s1" is {"name": "Smith, J", "store": "s1"}.
_PAIRS = re.compile(r",(?=\s*[^,=\s][^,=]*=)")


class DebugError(RuntimeError):
    """The debug command cannot do what it was asked; ``exit_code`` 2 for a wrong command line."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def group_values(
    group_by: Sequence[str], groups: Sequence[str], *, model: str | None = None
) -> dict[str, str]:
    """The group's value per group column, from the ``--group`` arguments.

    Parameters
    ----------
    group_by : sequence of str
        The spec's group columns.
    groups : sequence of str
        The ``--group`` arguments: a bare value (one group column only) or ``column=value`` pairs,
        comma-separated within one argument or repeated.
    model : str or None, default=None
        The model, for messages.

    Returns
    -------
    dict of str to str
        Column -> value, in ``group_by`` order.

    Raises
    ------
    DebugError
        With ``exit_code`` 2: a bare value with several group columns, a column that is not a
        group column, a column given twice, or a group column without a value.

    Examples
    --------
    >>> group_values(["g"], ["g03"], model="m")
    {'g': 'g03'}
    >>> group_values(["region", "store"], ["store=s1,region=north"], model="m")
    {'region': 'north', 'store': 's1'}
    >>> group_values(["region", "store"], ["region=north", "store=s1"], model="m")
    {'region': 'north', 'store': 's1'}
    """
    items = [item.strip() for arg in groups for item in _PAIRS.split(arg)]
    example = ",".join(f"{c}=..." for c in group_by)
    of = f" of model '{model}'" if model else ""
    if len(items) == 1 and "=" not in items[0]:
        if len(group_by) == 1:
            return {group_by[0]: items[0]}
        raise DebugError(
            f"The --group option{of} must name each of the group columns "
            f"{list(group_by)} as column=value. Got {items[0]!r} instead. "
            f"Use --group {example}.",
            exit_code=2,
        )
    values: dict[str, str] = {}
    for item in items:
        column, equals, value = (part.strip() for part in item.partition("="))
        if not equals:
            raise DebugError(
                f"Each --group item{of} must be column=value when several are "
                f"given. Got {item!r} instead. Use --group {example}.",
                exit_code=2,
            )
        if column not in group_by:
            raise DebugError(
                f"The --group column {column!r} is not a group column{of}. Valid group columns "
                f"are: {list(group_by)}.",
                exit_code=2,
            )
        if column in values:
            raise DebugError(
                f"The --group column {column!r}{of} is given twice: "
                f"{values[column]!r} and {value!r}. Give it once.",
                exit_code=2,
            )
        values[column] = value
    missing = [c for c in group_by if c not in values]
    if missing:
        raise DebugError(
            f"The --group option{of} must give a value for every group column "
            f"{list(group_by)}. Missing: {missing}. Use --group {example}.",
            exit_code=2,
        )
    return {c: values[c] for c in group_by}


def check_estimator(spec: SweepSpec, name: str | None, *, model: str) -> None:
    """Raise :class:`DebugError` (exit code 2) when ``name`` is not an estimator of the spec.

    Examples
    --------
    >>> from dbt_sweep.spec import parse_spec
    >>> spec = parse_spec({"source": "s", "group_by": ["g"], "key": "k", "target": "y",
    ...     "task": "regression", "estimators": [{"name": "ridge",
    ...     "estimator": "sklearn.linear_model.Ridge"}]}, model="m")
    >>> check_estimator(spec, "svr", model="m")
    Traceback (most recent call last):
    ...
    dbt_sweep.cli.debug.DebugError: The --estimator option of model 'm' must be one of the spec's estimator names ['ridge']. Got 'svr' instead.
    """
    names = [str(e.name) for e in spec.estimators]
    if name is not None and name not in names:
        raise DebugError(
            f"The --estimator option of model '{model}' must be one of the spec's estimator "
            f"names {names}. Got {name!r} instead.",
            exit_code=2,
        )


def group_rows(
    spec: SweepSpec, group: Sequence[str], *, dbt_args: Sequence[str], model: str | None = None
) -> pd.DataFrame:
    """Fetch one group's rows of the spec's source through ``dbt show``.

    ``group`` holds the ``--group`` arguments (:func:`group_values`); ``model`` names the model
    whose spec it is, in messages.

    Raises
    ------
    DebugError
        The ``--group`` arguments do not name the spec's group columns (exit code 2), dbt failed,
        or the group has no rows (exit code 1).
    """
    values = group_values(spec.group_by, group, model=model)
    where = " and ".join(f"{column} = {_literal(value)}" for column, value in values.items())
    sql = f"select * from {{{{ ref('{spec.source}') }}}} where {where}"
    result = _invoke(["show", "--inline", sql, "--limit", "-1", "--log-level", "none", *dbt_args])
    table = result.results[0].agate_table
    frame = pd.DataFrame(
        [[float(v) if isinstance(v, decimal.Decimal) else v for v in row] for row in table.rows],
        columns=list(table.column_names),
    )
    if frame.empty:
        raise DebugError(
            f"The group {_shown(values)} has no rows in '{spec.source}', the sweep's source. "
            "Check the values, or list the groups with: dbt show --inline "
            f"\"select distinct {', '.join(spec.group_by)} from {{{{ ref('{spec.source}') }}}}\"."
        )
    return frame


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbt_sweep debug",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="the sweep_runs-style model whose spec to use")
    parser.add_argument(
        "--group",
        action="append",
        required=True,
        help="the group: a value (one group column) or column=value pairs, comma-separated "
        "(--group region=north,store=s1) or repeated",
    )
    parser.add_argument("--estimator", help="only this estimator name of the spec")
    parser.add_argument("--pdb", action="store_true", help="post-mortem debugger on a failing run")
    add_dbt_options(parser)
    args = parser.parse_args(argv)
    try:
        return _debug(args)
    except DebugError as exc:
        print(f"dbt_sweep debug: {exc}", file=sys.stderr)  # noqa: T201
        return exc.exit_code
    except (ProjectError, SweepSpecError) as exc:
        print(f"dbt_sweep debug: {exc}", file=sys.stderr)  # noqa: T201
        return 1


def _debug(args: argparse.Namespace) -> int:
    """The command once its arguments parsed; raises DebugError on a usage error."""
    options = dbt_args(args)
    spec = load_spec(args.model, dbt_args=options)
    values = group_values(spec.group_by, args.group, model=args.model)  # before any dbt query
    check_estimator(spec, args.estimator, model=args.model)
    rows = group_rows(spec, args.group, dbt_args=options, model=args.model)
    if args.pdb:
        try:
            runs = train_group(rows, spec, estimator=args.estimator, raise_errors=True)
        except Exception:
            import pdb

            pdb.post_mortem()
            return 1
    else:
        runs = train_group(rows, spec, estimator=args.estimator)
    shown = ["estimator_name", "params", "status", *(spec.metrics or []), "fit_seconds", "error"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(f"{len(rows)} rows of group {_shown(values)} from '{spec.source}'")  # noqa: T201
        print(runs[shown].to_string(index=False))  # noqa: T201
    return 0


def _shown(values: dict[str, str]) -> str:
    return ",".join(f"{column}={value}" for column, value in values.items())


def _literal(value: str) -> str:
    """A number as is, anything else as a quoted SQL string."""
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _invoke(args: list[str]) -> Any:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(args)
    if not result.success:
        raise DebugError(f"dbt {args[0]} failed: {result.exception or 'see the log above'}")
    return result.result
