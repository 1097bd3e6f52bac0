"""``python -m dbt_sweep <command>`` (see :mod:`dbt_sweep.cli`)."""

from __future__ import annotations

from dbt_sweep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
