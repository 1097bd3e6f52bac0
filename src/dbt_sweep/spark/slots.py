"""Work units dealt to task slots, and packed into bins: one grouped-map call trains a bin.

Units go to slots largest estimated cost first, round-robin, so every core stays busy. Within a
slot, consecutive units share a bin up to ``BIN_ROWS`` feature rows and ``BIN_RUNS`` runs: a call
costs a fixed amount (Arrow to pandas and back), which one small unit per call paid over and over,
and the caps keep a call's pandas frames a bounded size. Each bin carries a key (``UNIT``) that
Spark's hash partitioning maps to exactly the slot it was dealt."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dbt_sweep.spark import columns as _spark

__all__ = ["BIN_ROWS", "BIN_RUNS", "UNIT", "assign_slots", "slot_schema", "with_slots"]

# One long per bin of work units, chosen so that Spark's hash partitioning sends the bin to the task
# slot it was dealt (see assign_slots).
UNIT = "_sweep_unit"
# A bin's caps: feature rows (a group's rows are in the bin once, however many of its units are)
# and runs. A unit larger than either is a bin of its own.
BIN_ROWS = 200_000
BIN_RUNS = 2_000


def assign_slots(
    manifest: DataFrame,
    units: list[str],
    *,
    cores: int,
    bin_rows: int = BIN_ROWS,
    bin_runs: int = BIN_RUNS,
) -> pd.DataFrame:
    """Work units dealt to task slots, largest estimated cost first, round-robin, and packed into
    bins within their slot; each unit gets its bin's key (``UNIT``), which Spark's hash
    partitioning maps to exactly that slot. ``attrs`` holds ``n_slots`` and ``n_bins``."""
    per_unit = (
        manifest.groupBy(*units)
        .agg(
            F.sum("est_cost").alias("cost"),
            F.count(F.lit(1)).alias("n_runs"),
            F.max("n_rows").alias("n_rows"),
        )
        .toPandas()
        .sort_values(["cost", *units], ascending=[False, *[True] * len(units)], kind="stable")
        .reset_index(drop=True)
    )
    n_slots = max(1, min(len(per_unit), cores * _spark.TASKS_PER_CORE))
    slot = per_unit.index.to_numpy() % n_slots
    bins = pack_bins(slot, per_unit["n_rows"].to_numpy(), per_unit["n_runs"].to_numpy(),
                     bin_rows=bin_rows, bin_runs=bin_runs)  # fmt: skip
    bin_slot = pd.Series(slot).groupby(bins).first().sort_index().to_numpy()
    keys = _keys_in_partitions(manifest.sparkSession, bin_slot, n_slots)
    per_unit[UNIT] = [keys[b] for b in bins]
    per_unit.attrs.update(n_slots=n_slots, n_bins=len(bin_slot))
    return per_unit


def pack_bins(slot: Any, rows: Any, runs: Any, *, bin_rows: int, bin_runs: int) -> list[int]:
    """A bin number per unit: each slot's units in order, a new bin whenever the next unit would
    take the bin past ``bin_rows`` rows or ``bin_runs`` runs.

    Examples
    --------
    >>> pack_bins([0, 1, 0, 1, 0], [50, 50, 50, 50, 50], [2, 2, 2, 2, 2], bin_rows=100, bin_runs=10)
    [0, 1, 0, 1, 2]
    >>> pack_bins([0, 0, 0], [500, 10, 10], [1, 1, 1], bin_rows=100, bin_runs=10)
    [0, 1, 1]
    """
    open_bin: dict[int, tuple[int, int, int]] = {}  # slot -> (bin, rows, runs)
    out, n_bins = [], 0
    for s, r, k in zip(slot, rows, runs, strict=True):
        current = open_bin.get(int(s))
        if current is None or current[1] + r > bin_rows or current[2] + k > bin_runs:
            current = (n_bins, 0, 0)
            n_bins += 1
        out.append(current[0])
        open_bin[int(s)] = (current[0], current[1] + int(r), current[2] + int(k))
    return out


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
