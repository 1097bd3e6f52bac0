"""The regression metrics computed in numpy agree with sklearn's, edge cases included."""

import numpy as np
import pytest
from sklearn import metrics as skm

from dbt_sweep.metrics import METRICS

SKLEARN = {
    "rmse": lambda y, p: np.sqrt(skm.mean_squared_error(y, p)),
    "mae": skm.mean_absolute_error,
    "r2": skm.r2_score,
    "mape": skm.mean_absolute_percentage_error,
}
NO_CLASSES = np.array([])


@pytest.mark.parametrize("name", sorted(SKLEARN))
@pytest.mark.parametrize(
    "y, pred",
    [
        (np.random.default_rng(0).normal(size=50), np.random.default_rng(1).normal(size=50)),
        (
            np.array([0.0, 1.0, -2.0, 0.0]),
            np.array([0.5, 1.0, -1.0, 0.0]),
        ),  # zeros in y: mape's eps
        (np.full(5, 3.0), np.full(5, 3.0)),  # constant target, exact: r2 = 1
        (np.full(5, 3.0), np.arange(5.0)),  # constant target, not exact: r2 = 0
        (np.arange(4), np.arange(4).reshape(-1, 1) + 0.5),  # integer y, column-shaped predictions
    ],
)
def test_regression_metric_equals_sklearn(name, y, pred):
    expected = SKLEARN[name](y, np.ravel(pred))
    assert METRICS[name].func(y, pred, NO_CLASSES) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(SKLEARN))
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_predictions_fail_the_run(name, bad):
    with pytest.raises(ValueError, match="NaN or infinity"):
        METRICS[name].func(np.arange(3.0), np.array([0.0, bad, 1.0]), NO_CLASSES)
