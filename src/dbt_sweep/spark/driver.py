"""Small trainings run on the driver: an incremental build that retrains a few runs skips the
grouped-map stage, whose fixed cost (cold Python workers importing pandas, scikit-learn and
dbt_sweep, a shuffle, one task per slot) is seconds where the few fits take milliseconds.

The driver runs the very function the workers run (:func:`dbt_sweep.spark.runs` ``_trainer``) on
the same rows, so results, failure rows and tracking are the same; only where it runs differs.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pyspark.sql import DataFrame

__all__ = ["DRIVER_MAX_COST", "DRIVER_MAX_ROWS", "on_driver", "train_on_driver"]

#: Estimated seconds of fitting (the manifest's ``est_cost``) the driver takes on alone: about what
#: starting the workers costs, so above it the parallel stage wins.
DRIVER_MAX_COST = 2.0
#: Feature rows collected to the driver at most.
DRIVER_MAX_ROWS = 100_000


def on_driver(units: pd.DataFrame, *, incremental: bool) -> bool:
    """Whether to train ``units`` (:func:`~dbt_sweep.spark.slots.assign_slots`' frame: ``cost``
    and ``n_rows`` per unit) on the driver: only on an incremental build that retrains little.
    First builds always use the workers, so a sweep's first build runs where its others will.

    Examples
    --------
    >>> units = pd.DataFrame({"cost": [0.01, 0.02], "n_rows": [100, 100]})
    >>> on_driver(units, incremental=True), on_driver(units, incremental=False)
    (True, False)
    >>> on_driver(units.assign(cost=5.0), incremental=True)
    False
    """
    return (
        incremental
        and float(units["cost"].sum()) <= DRIVER_MAX_COST
        and int(units["n_rows"].sum()) <= DRIVER_MAX_ROWS
    )


def train_on_driver(
    data: DataFrame,
    runs: DataFrame,
    trainer: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
    schema: str,
    *,
    bin_column: str,
) -> DataFrame:
    """Collect the rows and runs of the bins, train them bin by bin in this process, and return
    the result as a DataFrame of ``schema``, as the grouped map would.

    Bin by bin, as the workers do: a group whose units (shards) fell into several bins has its
    rows once in each, so training all bins in one call would see those rows twice.
    """
    features, manifest = data.toPandas(), runs.toPandas()
    parts = [
        trainer(features[features[bin_column] == key], bin_runs)
        for key, bin_runs in manifest.groupby(bin_column, sort=True)
    ]
    result = pd.concat(parts, ignore_index=True) if parts else trainer(features.iloc[:0], manifest)
    return data.sparkSession.createDataFrame(result, schema=schema)
