"""``python -m dbt_sweep check``: not built yet (issue 16)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    raise NotImplementedError("python -m dbt_sweep check")
