"""Training: one work unit in, one result row per manifest row out. pandas in, pandas out, no Spark.

:func:`train_unit` is what Spark's Python workers run for each work unit (a group, or a group's
shard): it splits the rows, fits each run's pipeline (sharing the preprocessing between runs that
train on the same rows), scores the configured metrics, runs searches (:mod:`.search`), and stores the
skops bytes of the unit's winners. :func:`train_group` does the same for one group in a notebook or a
debugger, without Spark.
"""

from __future__ import annotations

from dbt_sweep.training.unit import run_schema, sklearn_ready, train_group, train_unit

__all__ = ["run_schema", "sklearn_ready", "train_group", "train_unit"]
