"""``python -m dbt_sweep check``: validate every sweep spec of a dbt project, without Spark.

Parses the project with dbt (no connection to the warehouse), then validates the ``sweep`` config of
every model that has one with the same code, and so the same messages, as ``dbt build``
(:func:`dbt_sweep.spec.parse_spec`), and the ``scoring`` config of every predictions model
(:func:`dbt_sweep.scoring.predict.parse_scoring`). Exits 0 with one line per sweep, or 1 with every
problem, each naming its model and key. Checks that need the data (the spec's columns against the
source table's) still run in the build, before anything trains.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from dbt_sweep.cli.project import ProjectError, add_dbt_options, dbt_args, parse_project
from dbt_sweep.exceptions import SweepSpecError
from dbt_sweep.scoring.predict import ScoringConfigError, parse_scoring
from dbt_sweep.spec import SweepSpec, parse_spec

__all__ = ["check_models", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbt_sweep check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dbt_options(parser)
    args = parser.parse_args(argv)
    try:
        manifest = parse_project(dbt_args(args))
    except ProjectError as exc:
        print(f"dbt_sweep check: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    lines, problems = check_models(manifest)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)  # noqa: T201
        print(  # noqa: T201
            f"dbt_sweep check: {len(problems)} problem(s) in the sweep specs of the project.",
            file=sys.stderr,
        )
        return 1
    if not lines:
        print("dbt_sweep check: no model of the project has a `sweep` config.")  # noqa: T201
    for line in lines:
        print(line)  # noqa: T201
    return 0


def check_models(manifest: Any) -> tuple[list[str], list[str]]:
    """Validate every ``sweep`` (and ``scoring``) config of the parsed project.

    Returns
    -------
    (list of str, list of str)
        A summary line per valid sweep model, and every problem (one line each).
    """
    root = manifest.metadata.project_name
    nodes = sorted(
        (
            n
            for n in manifest.nodes.values()
            if n.resource_type == "model" and n.package_name == root and n.config.get("sweep")
        ),
        key=lambda n: n.name,
    )
    lines: list[str] = []
    problems: list[str] = []
    for node in nodes:
        try:
            spec = parse_spec(node.config.get("sweep"), model=node.name)
        except SweepSpecError as exc:
            problems += str(exc).splitlines()
            continue
        scoring = node.config.get("scoring")
        if scoring is not None:
            try:
                parse_scoring(scoring, model=node.name)
            except ScoringConfigError as exc:
                problems += str(exc).splitlines()
                continue
        lines.append(summary(node.name, spec, scoring=scoring is not None))
    return lines, problems


def summary(model: str, spec: SweepSpec, *, scoring: bool = False) -> str:
    """One line saying what a valid sweep model trains (or scores)."""
    names = ", ".join(str(e.name) for e in spec.estimators)
    what = "scores with the winners of" if scoring else "trains"
    return (
        f"{model}: ok - {what} a {spec.task} sweep of '{spec.source}' by {spec.group_by}: "
        f"{len(spec.estimators)} estimator(s) ({names}), primary metric {spec.primary_metric} "
        f"({spec.primary_direction})"
    )
