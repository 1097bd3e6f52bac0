"""``python -m dbt_sweep <command>``: tools around a dbt-sweep project, one module per command.

- ``new``: scaffold one sweep into the current dbt project (:mod:`dbt_sweep.cli.new`)
- ``contract``: write or check a sweep table's contract columns from its spec (:mod:`dbt_sweep.cli.contract`)
- ``check``: validate every sweep spec of a project without Spark (:mod:`dbt_sweep.cli.check`)
- ``debug``: train one group in this process (:mod:`dbt_sweep.cli.debug`)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

# command -> (module under dbt_sweep.cli, one-line summary); imported lazily, so `check` never pays
# for pyspark or scikit-learn.
COMMANDS = {
    "new": ("new", "scaffold one sweep into the current dbt project"),
    "contract": ("contract", "write (or --check) a sweep table's contract columns from its spec"),
    "check": ("check", "validate every sweep spec of the project, without Spark"),
    "debug": ("debug", "train one group of a sweep in this Python process"),
}


def usage() -> str:
    lines = ["usage: python -m dbt_sweep COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<9} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "python -m dbt_sweep COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), file=sys.stderr if not args else sys.stdout)  # noqa: T201
        return 2 if not args else 0
    if args[0] not in COMMANDS:
        print(f"dbt_sweep: unknown command '{args[0]}'.\n\n{usage()}", file=sys.stderr)  # noqa: T201
        return 2
    module = importlib.import_module(f"dbt_sweep.cli.{COMMANDS[args[0]][0]}")
    return int(module.main(args[1:]))
