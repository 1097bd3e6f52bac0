"""``python -m dbt_sweep <command>``: tools around a dbt-sweep project."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("debug",):
        print(
            "usage: python -m dbt_sweep debug MODEL --group VALUE [--estimator NAME] [--pdb]",
            file=sys.stderr,
        )  # noqa: T201
        return 2
    from dbt_sweep.cli import main as debug

    return debug(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
