"""Tests for dbt_sweep.manifest: grid expansion, run keys, sharding."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dbt_sweep.manifest import (
    MANIFEST_COLUMNS,
    build_manifest,
    estimate_cost,
    group_stats,
    unit_columns,
)
from dbt_sweep.spec import spec_hash

from conftest import make_spec


def _groups(n: int, *, fingerprint: str = "fp") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group_id": [f"g{i:04d}" for i in range(n)],
            "n_rows": 100,
            "data_fingerprint": fingerprint,
        }
    )


def test_rows_columns_and_dtypes() -> None:
    """One row per group x grid point (2 + 6 per group), columns in order, no data columns."""
    spec = make_spec()
    groups = _groups(3)
    groups["group_id"] = groups["group_id"].astype("category").astype(str)
    manifest = build_manifest(spec, groups, parallelism=100)
    assert len(manifest) == 3 * (2 + 6)
    assert list(manifest.columns) == ["run_key", "group_id", *MANIFEST_COLUMNS]
    assert manifest.dtypes.astype(str).to_dict() == {
        "run_key": "object", "group_id": "object", "estimator_name": "object", "estimator": "object",
        "params": "object", "search": "object", "shard": "int32", "n_rows": "int64",
        "data_fingerprint": "object", "est_cost": "float64", "spec_hash": "object",
    }  # fmt: skip
    assert set(manifest["spec_hash"]) == {spec_hash(spec)}
    assert set(manifest["search"]) == {"grid"}
    assert manifest["run_key"].is_unique


def test_params_json_merges_fixed_params_in_sorted_grid_order() -> None:
    """params is sorted JSON of fixed params + grid point; grid keys expand in sorted order."""
    manifest = build_manifest(make_spec(), _groups(1), parallelism=1)
    svr = manifest[manifest["estimator_name"] == "svr"]["params"].tolist()
    assert svr[0] == '{"C": 0.1, "epsilon": 0.1, "kernel": "linear"}'
    assert [json.loads(p)["kernel"] for p in svr] == ["linear", "rbf"] * 3


def test_run_key_is_deterministic() -> None:
    """Same spec + group -> same key; data changes do not change it; params and groups do."""
    spec = make_spec()
    first = build_manifest(spec, _groups(2), parallelism=1)
    again = build_manifest(spec, _groups(2, fingerprint="changed").iloc[::-1], parallelism=1)
    assert first["run_key"].tolist() == again["run_key"].tolist()
    assert first["run_key"].nunique() == len(first)
    other = build_manifest(make_spec(split={"kind": "kfold"}), _groups(2), parallelism=1)
    assert set(other["run_key"]).isdisjoint(first["run_key"])


@pytest.mark.parametrize(
    ("n_groups", "parallelism", "shards", "expected"),
    [
        (4, 2, "auto", 1),
        (1, 2, "auto", 4),
        (4, 8, "auto", 4),
        (1000, 8, "auto", 1),
        (2, 1, 3, 3),
        (2, 1, 50, 8),
    ],
    ids=[
        "enough-groups",
        "one-group",
        "few-groups",
        "many-groups",
        "fixed",
        "fixed-capped-at-runs",
    ],
)
def test_sharding(n_groups: int, parallelism: int, shards: object, expected: int) -> None:
    """With shards: auto, few groups are split into ceil(2 * parallelism / n_groups) shards."""
    manifest = build_manifest(make_spec(shards=shards), _groups(n_groups), parallelism=parallelism)
    assert manifest.groupby("group_id")["shard"].nunique().eq(expected).all()


def test_fifty_runs_four_groups_lpt_balanced() -> None:
    """4 groups x 50 runs with parallelism 2 -> 1 shard each; with parallelism 8 -> 4 balanced shards."""
    estimators = [
        {
            "estimator": "sklearn.ensemble.RandomForestRegressor",
            "grid": {"n_estimators": list(range(10, 510, 10))},
        }
    ]
    assert len(build_manifest(make_spec(estimators=estimators), _groups(4), parallelism=2)) == 200
    manifest = build_manifest(make_spec(estimators=estimators), _groups(4), parallelism=8)
    loads = manifest.groupby(["group_id", "shard"])["est_cost"].sum().unstack()
    assert loads.shape == (4, 4)
    assert (loads.max(axis=1) / loads.min(axis=1)).max() < 1.05
    assert unit_columns(make_spec()) == ["group_id", "shard"]


def test_equal_cost_grid_points_mix_every_axis_in_every_shard() -> None:
    """A 5 x 5 x 2 SVR grid (equal estimated costs) on one group in 4 shards: round-robin in
    grid order would give two shards all of one gamma; each shard gets every axis' values."""
    grid = {
        "C": [0.1, 0.5, 3.0, 18.0, 100.0],
        "epsilon": [0.05, 0.1, 0.2, 0.3, 0.5],
        "gamma": ["scale", 0.05],
    }
    estimators = [{"estimator": "sklearn.svm.SVR", "grid": grid}]
    manifest = build_manifest(make_spec(estimators=estimators), _groups(1), parallelism=2)
    params = pd.DataFrame([json.loads(p) for p in manifest["params"]]).assign(
        shard=manifest["shard"]
    )
    assert params["shard"].nunique() == 4
    per_shard = params.groupby("shard")
    assert per_shard.size().max() - per_shard.size().min() <= 1
    scale = per_shard["gamma"].apply(lambda g: int((g == "scale").sum()))
    assert scale.max() - scale.min() <= 1, scale.to_dict()
    assert per_shard["C"].nunique().min() >= 4 and per_shard["epsilon"].nunique().min() >= 4


def test_est_cost_ranks_families() -> None:
    """Kernel methods grow like n^2, ensembles with n_estimators, linear models stay cheap."""
    linear = estimate_cost("sklearn.linear_model.Ridge", {}, n_rows=10_000, n_features=10)
    kernel = estimate_cost("sklearn.svm.SVR", {}, n_rows=10_000, n_features=10)
    forest = estimate_cost(
        "sklearn.ensemble.RandomForestRegressor",
        {"n_estimators": 300},
        n_rows=10_000,
        n_features=10,
    )
    assert linear < forest < kernel


def test_group_stats_fingerprint_is_each_groups_own_hash() -> None:
    """The one-pass fingerprints equal a per-group hash of the group's rows alone: two group
    columns, a null group value, rows interleaved, one group of one row."""
    import hashlib

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "region": rng.choice(["n", "s", None], size=41).tolist() + ["e"],
        "store": rng.integers(0, 3, size=42),
        "x": rng.normal(size=42),
        "y": rng.normal(size=42),
    })  # fmt: skip
    spec = make_spec(group_by=["region", "store"])
    stats = group_stats(frame, spec)
    expected = {}
    for key, rows in frame.groupby(["region", "store"], dropna=False):
        hashes = np.sort(
            pd.util.hash_pandas_object(rows[sorted(rows.columns)], index=False).to_numpy()
        )
        digest = hashlib.sha256(hashes.tobytes() + b"region,store,x,y").hexdigest()[:16]
        expected[key] = (len(rows), digest)
    got = {(r.region, r.store): (r.n_rows, r.data_fingerprint) for r in stats.itertuples()}
    assert len(got) == len(expected) == frame.groupby(["region", "store"], dropna=False).ngroups
    assert {(None if pd.isna(k[0]) else k[0], k[1]): v for k, v in got.items()} == {
        (None if pd.isna(k[0]) else k[0], k[1]): v for k, v in expected.items()
    }
    assert stats.dtypes["store"] == frame.dtypes["store"] and stats.dtypes["n_rows"] == np.int64
    assert group_stats(frame.iloc[:0], spec).empty


def test_group_stats_and_empty_groups(regression_group: pd.DataFrame) -> None:
    """group_stats gives n_rows and an order-independent fingerprint; no groups -> no rows."""
    spec = make_spec()
    stats = group_stats(regression_group, spec)
    shuffled = group_stats(regression_group.sample(frac=1.0, random_state=1), spec)
    assert stats["n_rows"].tolist() == [60]
    assert stats["data_fingerprint"].equals(shuffled["data_fingerprint"])
    empty = build_manifest(spec, _groups(0), parallelism=4)
    assert empty.empty and list(empty.columns) == ["run_key", "group_id", *MANIFEST_COLUMNS]
    assert np.dtype(empty["shard"].dtype) == np.int32
