"""Debug one group in a plain Python process: the seed blog's "debug with one scenario".

``python -m dbt_sweep debug sweep_runs --group g03`` reads the model's sweep spec from the dbt
project, fetches the group's rows through dbt (so the profile, target and refs are the project's
own), and runs the same training function Spark runs, in this process: breakpoints in estimators or
in dbt_sweep work, and ``--pdb`` stops at a failing run's exception.
"""

from __future__ import annotations

import argparse
import decimal
from collections.abc import Sequence
from typing import Any

import pandas as pd

from dbt_sweep.spec import SweepSpec, parse_spec
from dbt_sweep.training import train_group


class DebugError(RuntimeError):
    """The debug command cannot find what it was asked for."""


def load_spec(model: str, *, dbt_args: Sequence[str]) -> SweepSpec:
    """Parse the dbt project and return ``model``'s validated sweep spec."""
    result = _invoke(["parse", *dbt_args])
    nodes = [n for n in result.nodes.values() if n.resource_type == "model" and n.name == model]
    if not nodes:
        names = sorted(n.name for n in result.nodes.values() if n.config.get("sweep"))
        raise DebugError(f"No model '{model}' in the project. Models with a sweep spec: {names}.")
    return parse_spec(nodes[0].config.get("sweep"), model=model)


def group_rows(spec: SweepSpec, group: Sequence[str], *, dbt_args: Sequence[str]) -> pd.DataFrame:
    """Fetch one group's rows of the spec's source through ``dbt show``."""
    values = _group_values(spec, group)
    where = " and ".join(f"{column} = {_literal(value)}" for column, value in values.items())
    sql = f"select * from {{{{ ref('{spec.source}') }}}} where {where}"
    result = _invoke(["show", "--inline", sql, "--limit", "-1", "--log-level", "none", *dbt_args])
    table = result.results[0].agate_table
    frame = pd.DataFrame(
        [[float(v) if isinstance(v, decimal.Decimal) else v for v in row] for row in table.rows],
        columns=list(table.column_names),
    )
    if frame.empty:
        raise DebugError(f"Group {values} has no rows in '{spec.source}'.")
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
        help="the group: a value (one group column) or column=value, repeatable",
    )
    parser.add_argument("--estimator", help="only this estimator name of the spec")
    parser.add_argument("--pdb", action="store_true", help="post-mortem debugger on a failing run")
    parser.add_argument("--target", help="dbt target (default: the profile's)")
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--profiles-dir", default=None)
    args = parser.parse_args(argv)
    dbt_args = ["--project-dir", args.project_dir, "--quiet"]
    if args.profiles_dir:
        dbt_args += ["--profiles-dir", args.profiles_dir]
    if args.target:
        dbt_args += ["--target", args.target]

    spec = load_spec(args.model, dbt_args=dbt_args)
    rows = group_rows(spec, args.group, dbt_args=dbt_args)
    try:
        runs = train_group(rows, spec, estimator=args.estimator, raise_errors=args.pdb)
    except Exception:
        import pdb

        pdb.post_mortem()
        return 1
    shown = ["estimator_name", "params", "status", *(spec.metrics or []), "fit_seconds", "error"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(f"{len(rows)} rows of group {args.group} from '{spec.source}'")  # noqa: T201
        print(runs[shown].to_string(index=False))  # noqa: T201
    return 0


def _group_values(spec: SweepSpec, group: Sequence[str]) -> dict[str, str]:
    if len(group) == 1 and "=" not in group[0] and len(spec.group_by) == 1:
        return {spec.group_by[0]: group[0]}
    values = dict(item.split("=", 1) for item in group)
    if sorted(values) != sorted(spec.group_by):
        raise DebugError(
            f"--group must give every group column {spec.group_by} as column=value. Got {values}."
        )
    return values


def _literal(value: str) -> str:
    try:
        float(value)
    except ValueError:
        return "'" + value.replace("'", "''") + "'"
    return value


def _invoke(args: list[str]) -> Any:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(args)
    if not result.success:
        raise DebugError(f"dbt {args[0]} failed: {result.exception or 'see the log above'}")
    return result.result
