"""Hyperparameter search inside one run: random, Optuna (with pruning) and successive halving.

A search run trains on its training rows minus a validation split, picks the best trial by the
primary metric on the validation rows, and refits it on the whole training split. :mod:`.trials`
holds what every strategy shares, :mod:`.core` the strategies, :mod:`.optuna_trials` the Optuna
studies, :mod:`.fit` the training side (validation split, objectives) and :mod:`.epochs` the
epoch-by-epoch training of pruned searches.
"""

from __future__ import annotations

from dbt_sweep.training.search.core import run_search
from dbt_sweep.training.search.fit import search_params, validation_split
from dbt_sweep.training.search.trials import SearchError

__all__ = ["SearchError", "run_search", "search_params", "validation_split"]
