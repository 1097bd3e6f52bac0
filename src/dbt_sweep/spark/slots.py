"""Work units dealt to task slots: largest estimated cost first, round-robin, each unit carrying a key
that Spark's hash partitioning maps to exactly the slot it was dealt."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep.spark import columns as _spark

__all__ = ["UNIT", "assign_slots", "slot_schema", "with_slots"]

# One long per work unit, chosen so that Spark's hash partitioning sends the unit to the task slot it
# was dealt (see assign_slots).
UNIT = "_sweep_unit"


def assign_slots(manifest: DataFrame, units: list[str], *, cores: int) -> pd.DataFrame:
    """Work units dealt to task slots, largest estimated cost first, round-robin; each gets a key
    (``UNIT``) that Spark's hash partitioning maps to exactly that slot."""
    per_unit = (
        manifest.groupBy(*units)
        .agg(F.sum("est_cost").alias("cost"), F.count(F.lit(1)).alias("n_runs"))
        .toPandas()
        .sort_values(["cost", *units], ascending=[False, *[True] * len(units)], kind="stable")
        .reset_index(drop=True)
    )
    n_slots = max(1, min(len(per_unit), cores * _spark.TASKS_PER_CORE))
    slot = per_unit.index.to_numpy() % n_slots
    per_unit[UNIT] = _keys_in_partitions(manifest.sparkSession, slot, n_slots)
    per_unit.attrs["n_slots"] = n_slots
    return per_unit


def _keys_in_partitions(spark: Any, partitions: Any, n: int) -> list[int]:
    """Distinct longs ``k`` with ``pmod(hash(k), n) == partitions[i]``, one per unit.

    ``repartition(n, col)`` places a row in partition ``pmod(murmur3(col), n)``; asking Spark for
    the hashes of ``0..m`` (one tiny job) makes the placement exact, where hashing the group keys
    themselves would put several units in one task and leave others empty.
    """
    wanted = pd.Series(partitions).value_counts()
    m = 4 * n * (int(wanted.max()) + 1)
    while True:
        hashed = spark.range(m).select("id", F.pmod(F.hash("id"), F.lit(n)).alias("p")).toPandas()
        pools = {p: list(ids) for p, ids in hashed.groupby("p")["id"]}
        if all(len(pools.get(p, [])) >= count for p, count in wanted.items()):
            return [int(pools[p].pop(0)) for p in partitions]
        m *= 2


def slot_schema(manifest: DataFrame, units: list[str]) -> str:
    types = _spark.column_types(manifest, units)
    return ", ".join([*(f"`{c}` {t}" for c, t in types.items()), f"`{UNIT}` bigint"])


def with_slots(df: DataFrame, slot_map: DataFrame, *, on: list[str], how: str) -> DataFrame:
    """Join the (small, broadcast) unit -> slot map; null group keys match each other."""
    left, right = df.alias("left"), F.broadcast(slot_map).alias("right")
    condition = [F.col(f"left.`{c}`").eqNullSafe(F.col(f"right.`{c}`")) for c in on]
    return left.join(right, condition, how)
