"""Training: one work unit in, one result row per manifest row out. pandas in, pandas out, no Spark.

:func:`train_units` is what Spark's Python workers run for each bin of work units (a unit is a
group, or a group's shard); :func:`train_unit` trains one unit: it prepares the rows once (:mod:`.prepare`, :mod:`.split`), fits each run's pipeline
(:mod:`.pipeline`, sharing the preprocessing between runs that train on the same rows), scores the
configured metrics, runs searches (:mod:`.search`), keeps the skops bytes of the unit's winners
(:mod:`.store`) and returns a frame shaped by :mod:`.frame`. :func:`train_group` does the same for
one group in a notebook or a debugger, without Spark.
"""

from __future__ import annotations

from dbt_sweep.training.bins import train_group, train_units
from dbt_sweep.training.frame import run_columns, run_schema
from dbt_sweep.training.prepare import canonical_order, holdout_rows, sklearn_ready
from dbt_sweep.training.unit import train_unit

__all__ = [
    "canonical_order",
    "holdout_rows",
    "run_columns",
    "run_schema",
    "sklearn_ready",
    "train_group",
    "train_unit",
    "train_units",
]
