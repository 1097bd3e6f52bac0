"""The dbt plugin object dbt instantiates for every command that loads a project."""

from __future__ import annotations

from dbt.plugins.manager import dbtPlugin

from dbt_sweep.plugin.registration import register_session_method


class SessionMethodPlugin(dbtPlugin):
    """Registers dbt-sweep's ``session`` Python submission method (idempotent)."""

    def initialize(self) -> None:
        register_session_method()
