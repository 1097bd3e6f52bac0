"""Hyperparameter search inside one run: random, Optuna (with pruning) and successive halving.

A search run trains on its training rows minus a validation split, picks the best trial by the
primary metric on the validation rows, and refits it on the whole training split.
"""

from __future__ import annotations

from dbt_sweep.training.search.core import SearchError, run_search
from dbt_sweep.training.search.fit import search_params

__all__ = ["SearchError", "run_search", "search_params"]
