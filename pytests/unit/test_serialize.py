"""Tests for dbt_sweep.training.serialize: skops round trip and the type allowlist."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestRegressor

from dbt_sweep.exceptions import UntrustedModelError
from dbt_sweep.training.serialize import dump_model, load_model


class Custom(BaseEstimator):
    """A type outside the default allowlist."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha


def test_round_trip_predicts_identically() -> None:
    """A forest (whose Tree type skops does not trust by default) loads from sklearn.-allowed bytes."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(load_model(dump_model(model)).predict(X), model.predict(X))


def test_rejects_types_outside_allowed_modules() -> None:
    """The error lists the offending types and the allowed prefixes."""
    data = dump_model(Custom(alpha=2.0))
    message = (
        f"The model blob contains types outside the allowed modules ['sklearn.', 'numpy.', 'scipy.']: "
        f"['{__name__}.Custom']. Pass allowed_modules=... with their module prefixes only if you created "
        "the blob yourself or fully trust its source."
    )
    with pytest.raises(UntrustedModelError, match=f"^{re.escape(message)}$"):
        load_model(data)
    assert load_model(data, allowed_modules=(f"{__name__}.",)).alpha == 2.0
