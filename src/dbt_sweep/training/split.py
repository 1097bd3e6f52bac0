"""The train/test splits of one group: k-fold, random or time, as ``sweep.split`` asks.

Splits pick rows by position in the group's canonical order
(:func:`dbt_sweep.training.prepare.canonical_order`), so the same data gives the same splits in
every build. A group too small to split raises :class:`UnfitGroup`, which the unit turns into one
``skipped`` or ``failed`` row per run.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from dbt_sweep.spec import KFoldSplit, RandomSplit, SweepSpec, TimeSplit

__all__ = ["Split", "UnfitGroup", "make_splits", "time_order"]

#: One split: (training row positions, test row positions), both sorted.
Split = tuple[np.ndarray, np.ndarray]


class UnfitGroup(Exception):
    """A group-level reason why no run of the unit can be trained.

    Parameters
    ----------
    status : {"skipped", "failed"}
        ``skipped`` when the group is legitimately too small, ``failed`` when its data is wrong.
    reason : str
        The ``error`` text of every run of the unit.
    """

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def time_order(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Row positions of ``frame`` sorted by ``column`` (stable, so equal times keep their order)."""
    return np.argsort(frame[column].to_numpy(), kind="stable")


def make_splits(
    spec: SweepSpec, frame: pd.DataFrame, y: np.ndarray, classes: np.ndarray | None
) -> list[Split]:
    """Split a group's rows into training and test positions as ``spec.split`` asks.

    Parameters
    ----------
    spec : SweepSpec
        Gives ``split`` (k-fold, random or time).
    frame : DataFrame
        The group's rows in canonical order (time splits read their column here).
    y : ndarray
        The group's target, by row position.
    classes : ndarray or None
        The group's classes for classification (splits stratify when every class allows it),
        None for regression.

    Returns
    -------
    list of (ndarray, ndarray)
        One (train, test) pair per fold for k-fold, else a single pair.

    Raises
    ------
    UnfitGroup
        When the group has too few rows for the split, or a time column with nulls.
    """
    n, split = len(y), spec.split
    counts = np.unique(y, return_counts=True)[1] if classes is not None else np.array([])
    if isinstance(split, KFoldSplit):
        if n < split.folds:
            raise UnfitGroup(
                "skipped", f"group has {n} rows, fewer than sweep.split.folds ({split.folds})"
            )
        seed = split.seed if split.shuffle else None
        if classes is not None and counts.min() >= split.folds:
            return list(
                StratifiedKFold(split.folds, shuffle=split.shuffle, random_state=seed).split(
                    frame, y
                )
            )
        return list(KFold(split.folds, shuffle=split.shuffle, random_state=seed).split(frame))
    n_test = math.ceil(split.test_size * n)
    if n - n_test < 1:
        reason = f"group has {n} rows; a {split.kind} split with test_size {split.test_size} leaves no training rows"
        raise UnfitGroup("skipped", reason)
    if isinstance(split, TimeSplit):
        times = frame[split.column]
        if times.isna().any():
            raise UnfitGroup(
                "failed", f"time column {split.column!r} has {int(times.isna().sum())} null values"
            )
        order = time_order(frame, split.column)
        return [(np.sort(order[: n - n_test]), np.sort(order[n - n_test :]))]
    assert isinstance(split, RandomSplit)
    k = len(counts)
    stratify = (
        classes is not None
        and split.stratify
        and counts.min() >= 2
        and min(n_test, n - n_test) >= k
    )
    if not stratify:
        return [_random_split(n, n_test, split.seed)]
    train, test = train_test_split(
        np.arange(n), test_size=n_test, random_state=split.seed, stratify=y
    )
    return [(np.sort(train), np.sort(test))]


@functools.lru_cache(maxsize=256)
def _random_split(n: int, n_test: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """An unstratified random split depends on the row count and the seed only, so groups of one
    size share it (read-only) instead of validating and shuffling again."""
    train, test = train_test_split(np.arange(n), test_size=n_test, random_state=seed)
    train, test = np.sort(train), np.sort(test)
    train.flags.writeable = test.flags.writeable = False
    return train, test
