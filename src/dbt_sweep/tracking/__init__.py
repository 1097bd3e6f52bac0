"""MLflow tracking of a sweep: one parent run per build and model, child runs, winners' models, trials.

The driver opens the parent run (:func:`start_tracking`), the Spark workers log each unit's child
runs and models in bulk (:func:`track_unit`), and the driver closes the build (:func:`finish_tracking`:
group runs, the figure, trials, retried tasks' leftovers). Tracking never dominates training.
"""

from __future__ import annotations

from dbt_sweep.tracking.context import TrackingContext
from dbt_sweep.tracking.finish import finish_tracking
from dbt_sweep.tracking.model_choice import models_to_log
from dbt_sweep.tracking.parent import fail_parent, record_plan, start_tracking
from dbt_sweep.tracking.unit import track_unit

__all__ = [
    "TrackingContext",
    "fail_parent",
    "finish_tracking",
    "models_to_log",
    "record_plan",
    "start_tracking",
    "track_unit",
]
