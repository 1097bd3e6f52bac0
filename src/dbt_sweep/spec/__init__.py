"""The sweep spec: what a dbt model's ``sweep`` config may say, as typed pydantic models.

``parse_spec`` validates a model's config into a :class:`SweepSpec` and raises one
:class:`~dbt_sweep.exceptions.SweepSpecError` listing every problem (key path, model, allowed values,
value received, what to do); ``check_columns`` holds the spec against the feature table's columns.
The parts are declared in :mod:`~dbt_sweep.spec.parts`, the spec in :mod:`~dbt_sweep.spec.models`,
the cross-field checks in :mod:`~dbt_sweep.spec.checks` and :mod:`~dbt_sweep.spec.search_checks`.
Estimators are imported only from the allowlisted modules (:mod:`dbt_sweep.spec.estimators`);
:mod:`dbt_sweep.spec.search` says what a search setting means before anything trains. The bottom of
the package: it imports nothing above it.
"""

from __future__ import annotations

from dbt_sweep.spec.columns import check_columns
from dbt_sweep.spec.models import SweepSpec
from dbt_sweep.spec.parse import canonical_hash, parse_spec, spec_hash
from dbt_sweep.spec.parts import (
    EstimatorSpec,
    KFoldSplit,
    PreprocessingSpec,
    RandomSplit,
    TimeSplit,
    TrackingSpec,
)

__all__ = [
    "EstimatorSpec",
    "KFoldSplit",
    "PreprocessingSpec",
    "RandomSplit",
    "SweepSpec",
    "TimeSplit",
    "TrackingSpec",
    "canonical_hash",
    "check_columns",
    "parse_spec",
    "spec_hash",
]
