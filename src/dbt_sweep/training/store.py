"""Which runs of a unit keep their fitted pipeline, as skops bytes in the ``model`` column.

``store_models: all`` keeps every ``ok`` run's model; ``best`` (the default) keeps only the unit's
winner by :func:`dbt_sweep.training.selection.rank_key`, the rule ``sweep_best_models`` applies, so
a group's winner (the best of its units' bests) always has its bytes. With ``refit: true`` a stored
model is first refit on all the group's rows (its metrics stay those of the held-out evaluation).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dbt_sweep.spec import SweepSpec
from dbt_sweep.training.frame import error_text
from dbt_sweep.training.selection import rank_key
from dbt_sweep.training.serialize import dump_model

__all__ = ["ModelStore", "with_feature_names"]


class ModelStore:
    """Serialise a unit's fitted pipelines into the ``model`` column as ``spec.store_models`` asks.

    With ``best`` it holds one pipeline at a time (the best so far), so a unit of many runs never
    keeps many fitted models in memory. A pipeline skops cannot serialise fails its run.

    Parameters
    ----------
    spec : SweepSpec
        Gives ``store_models`` and the primary metric's direction.
    raise_errors : bool
        Let a serialisation error propagate instead of failing the run (debugging).
    feature_names : sequence of str or None, default=None
        The unit's feature columns, when its pipelines were fitted on an array without them
        (see :func:`with_feature_names`).
    """

    def __init__(
        self,
        spec: SweepSpec,
        *,
        raise_errors: bool,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        self.feature_names = feature_names
        self.keep_all = spec.store_models == "all"
        self.direction = spec.primary_direction
        self.raise_errors = raise_errors
        self.best: tuple[tuple[float, str], dict[str, Any], Any, Any] | None = None

    def add(self, result: dict[str, Any], run_key: str) -> None:
        """Take a run's result: pop its ``pipeline``, and store or hold it.

        Parameters
        ----------
        result : dict
            The run's result; an ``ok`` run's has ``pipeline``, ``status`` and ``primary_metric``.
            ``model`` (or a ``failed`` status) is set on it when its model is stored.
        run_key : str
            The run's key, the tie-breaker between equal metrics.
        """
        pipe = result.pop("pipeline", None)
        refit = result.pop("refit", None)
        if pipe is None:
            return
        if self.keep_all:
            self.dump(result, pipe, refit)
            return
        rank = rank_key(
            str(result["status"]), result["primary_metric"], run_key, direction=self.direction
        )
        if rank is None:  # never a winner in sweep_best_models either
            return
        if self.best is None or rank < self.best[0]:
            self.best = (rank, result, pipe, refit)

    def finish(self) -> None:
        """Store the held winner's model (``best``); call once after the unit's last run."""
        if self.best is not None:
            self.dump(*self.best[1:])
            self.best = None

    def dump(
        self, result: dict[str, Any], pipe: Any, refit: tuple[Callable[[], Any], int] | None = None
    ) -> None:
        """Set ``result["model"]`` to the skops bytes of ``pipe``, or of the same run fitted on all
        the group's rows (``refit``: the fit and the row count), or fail the run when that cannot
        be done."""
        try:
            if refit is not None:
                pipe = refit[0]()
                result["n_train"] = refit[1]
            if self.feature_names is not None:
                pipe = with_feature_names(pipe, self.feature_names)
            result["model"] = dump_model(pipe)
        except Exception as exc:
            if self.raise_errors:
                raise
            what = "refit on all rows" if refit is not None else "serialised"
            result.update(
                status="failed", error=f"the fitted model cannot be {what}: {error_text(exc)}"
            )


def with_feature_names(pipe: Any, names: Sequence[str]) -> Any:
    """``pipe`` as if its first step had been fitted on a DataFrame with columns ``names``.

    The first step gets ``feature_names_in_`` where a DataFrame fit puts it (before
    ``n_features_in_``), so the stored file has the layout a DataFrame fit gives and the loaded
    model checks the names of the frames it predicts on. A copy: the unit's fitted steps are shared
    between its runs, which go on predicting on arrays.
    """
    name, first = pipe.steps[0]
    named = copy.copy(first)
    state: dict[str, Any] = {}
    for key, value in first.__dict__.items():
        if key == "n_features_in_":
            state["feature_names_in_"] = np.asarray(list(names), dtype=object)
        state[key] = value
    named.__dict__ = state
    out = copy.copy(pipe)
    out.steps = [(name, named), *pipe.steps[1:]]
    return out
