"""Tests for dbt_sweep.training.row_check: a manifest row must be a run the spec produces."""

from __future__ import annotations

import json
import pickle
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dbt_sweep.exceptions import SweepDataError
from dbt_sweep.manifest import build_manifest, group_stats
from dbt_sweep.spec import SweepSpec
from dbt_sweep.training import row_check, train_unit
from dbt_sweep.training.row_check import check_manifest, check_manifest_row, manifest_row_problems

from conftest import make_spec

REMEDY = "rebuild sweep_manifest from the spec (dbt build -s sweep_manifest+)."
SPACE = {"C": {"float": [0.1, 10.0], "log": True}, "kernel": {"choice": ["linear", "rbf"]}}
ESTIMATORS: list[dict[str, Any]] = [
    {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.1, 1.0]}},
    {
        "name": "svr",
        "estimator": "sklearn.svm.SVR",
        "params": {"epsilon": 0.1},
        "grid": {"C": [0.1, 1.0, 10.0], "kernel": ["linear", "rbf"]},
    },
    {"name": "svr_random", "estimator": "sklearn.svm.SVR", "search": "random", "space": SPACE,
     "trials": 6, "seed": 3},
    {"name": "sgd", "estimator": "sklearn.linear_model.SGDRegressor", "search": "optuna",
     "params": {"learning_rate": "constant"}, "space": {"alpha": {"float": [1e-6, 1.0], "log": True}},
     "trials": 4, "pruning": {"pruner": "median", "epochs": 4, "warmup": 1}},
    {"name": "ridge_halving", "estimator": "sklearn.linear_model.Ridge",
     "grid": {"alpha": [0.1, 1.0, 10.0]}, "halving": {"factor": 3, "min_rows": 10}},
]  # fmt: skip


@pytest.fixture
def spec() -> SweepSpec:
    """A spec with every kind of run: grid, fixed params + grid, random, optuna + pruning, halving."""
    return make_spec(estimators=ESTIMATORS, shards=3)


@pytest.fixture
def manifest(spec: SweepSpec) -> pd.DataFrame:
    """build_manifest's rows for three groups of different sizes."""
    groups = pd.DataFrame(
        {
            "group_id": ["a", "b", "c"],
            "n_rows": [20, 500, 9000],
            "data_fingerprint": ["f1", "f2", "f3"],
        }
    )
    return build_manifest(spec, groups, parallelism=4)


def tampered(manifest: pd.DataFrame, **changes: Any) -> dict[str, Any]:
    """The manifest's first ridge row with some columns rewritten."""
    row = manifest[manifest["estimator_name"] == "ridge"].iloc[0].to_dict()
    return {**row, **changes}


def expected(column: str, row: dict[str, Any], must: str, got: str, note: str = "") -> str:
    return (
        f"The '{column}' of row {row['run_key']!r} in model 'sweep_manifest' must be {must}. "
        f"Got {got} instead{note}; {REMEDY}"
    )


def test_every_row_the_spec_builds_is_accepted(spec: SweepSpec, manifest: pd.DataFrame) -> None:
    """Grid points, fixed params, search settings (space, trials, seed, pruning, halving), any group."""
    assert set(manifest["search"]) == {"grid", "random", "optuna"}
    assert manifest_row_problems(manifest, spec) == [None] * len(manifest)
    assert [check_manifest_row(row, spec) for _, row in manifest.iterrows()] == [None] * len(
        manifest
    )
    check_manifest(manifest, spec)


def test_rows_of_real_groups_are_accepted(regression_group: pd.DataFrame, spec: SweepSpec) -> None:
    """Group values of any dtype (int here) do not enter the check: params never depend on them."""
    features = pd.concat([regression_group, regression_group.assign(group_id="g2")])
    features["group_id"] = features["group_id"].map({"g1": 1, "g2": 2})
    built = build_manifest(spec, group_stats(features, spec), parallelism=1)
    assert manifest_row_problems(built, spec) == [None] * len(built)


def test_a_spec_copy_is_checked_like_the_spec(spec: SweepSpec, manifest: pd.DataFrame) -> None:
    """Workers get a deserialised copy of the spec per task: it is recognised by its hash."""
    copy = pickle.loads(pickle.dumps(spec))
    assert manifest_row_problems(manifest, copy) == [None] * len(manifest)


def test_the_shell_command_row_is_refused(spec: SweepSpec, manifest: pd.DataFrame) -> None:
    """Issue 17 exploit (a): a row rewritten to subprocess.getoutput with params {"cmd": ...}."""
    row = tampered(manifest, estimator="subprocess.getoutput", params='{"cmd": "touch /tmp/x"}')
    message = expected(
        "estimator", row, "'sklearn.linear_model.Ridge', the path sweep.estimators[0] ('ridge') names",
        "'subprocess.getoutput'", ", which is not in the estimator allowlist ['sklearn.']",
    )  # fmt: skip
    assert check_manifest_row(row, spec) == message


BAD = {
    "unknown-name": (
        {"estimator_name": "evil", "estimator": "os.system"},
        "estimator_name",
        "one of the sweep spec's estimators ['ridge', 'svr', 'svr_random', 'sgd', 'ridge_halving']",
        "'evil'",
        "",
    ),
    "allowed-but-other-path": (
        {"estimator": "sklearn.linear_model.Lasso"},
        "estimator",
        "'sklearn.linear_model.Ridge', the path sweep.estimators[0] ('ridge') names",
        "'sklearn.linear_model.Lasso'",
        "",
    ),
    "null-estimator": (
        {"estimator": None},
        "estimator",
        "'sklearn.linear_model.Ridge', the path sweep.estimators[0] ('ridge') names",
        "None",
        ", which is not in the estimator allowlist ['sklearn.']",
    ),
    "search": (
        {"search": "random"},
        "search",
        "'grid', the search sweep.estimators[0] ('ridge') runs",
        "'random'",
        "",
    ),
    "off-grid-value": ({"params": '{"alpha": 5.0}'}, "params", None, "'{\"alpha\": 5.0}'", ""),
    "int-for-float": ({"params": '{"alpha": 1}'}, "params", None, "'{\"alpha\": 1}'", ""),
    "extra-param": (
        {"params": '{"alpha": 0.1, "solver": "lsqr"}'},
        "params",
        None,
        '\'{"alpha": 0.1, "solver": "lsqr"}\'',
        "",
    ),
    "not-json": ({"params": "alpha=0.1"}, "params", None, "'alpha=0.1'", ""),
    "json-list": ({"params": "[0.1]"}, "params", None, "'[0.1]'", ""),
}
RIDGE_GRID = (
    "one of the 2 parameter sets sweep.estimators[0] ('ridge') gives, such as '{\"alpha\": 0.1}'"
)


@pytest.mark.parametrize(("changes", "column", "must", "got", "note"), BAD.values(), ids=BAD.keys())
def test_a_rewritten_row_names_column_expectation_and_remedy(
    spec: SweepSpec,
    manifest: pd.DataFrame,
    changes: dict[str, Any],
    column: str,
    must: str | None,
    got: str,
    note: str,
) -> None:
    """Each rewritten column gets one sentence: run_key, allowed value, received value, remedy."""
    row = tampered(manifest, **changes)
    assert check_manifest_row(row, spec) == expected(column, row, must or RIDGE_GRID, got, note)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("svr_random", {"trials": 600}),
        ("svr_random", {"seed": 4}),
        ("svr_random", {"space": {"C": {"float": [0.1, 1e9], "log": True}}}),
        ("sgd", {"pruning": None}),
        ("sgd", {"random_state": 0}),
        ("ridge_halving", {"grid": {"alpha": [0.1, 1.0, 10.0, 100.0]}}),
        ("ridge_halving", {"halving": {"factor": 2, "min_rows": 10}}),
    ],
    ids=["trials", "seed", "space", "pruning", "added-param", "halving-grid", "halving-factor"],
)
def test_search_settings_must_be_the_specs(
    spec: SweepSpec, manifest: pd.DataFrame, name: str, change: dict[str, Any]
) -> None:
    """A search run's params are the spec's settings exactly: no more trials, no wider space."""
    row = manifest[manifest["estimator_name"] == name].iloc[0].to_dict()
    given = json.loads(row["params"])
    params = {k: v for k, v in {**given, **change}.items() if v is not None}
    bad = {**row, "params": json.dumps(params, sort_keys=True)}
    index = [e["name"] for e in ESTIMATORS].index(name)
    must = f"{row['params']!r}, the params sweep.estimators[{index}] ({name!r}) gives"
    assert check_manifest_row(bad, spec) == expected("params", bad, must, repr(bad["params"]))


def test_long_values_are_cut_in_the_message(spec: SweepSpec, manifest: pd.DataFrame) -> None:
    """A huge rewritten value does not flood the run's error column."""
    row = tampered(manifest, params=json.dumps({"alpha": 0.1, "pad": "x" * 5000}))
    message = check_manifest_row(row, spec)
    assert message is not None and len(message) < 600
    assert "xxx...'" in message


def test_nothing_is_imported_to_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: pd.DataFrame
) -> None:
    """A module that announces its import is named by a row, under an allowlisted prefix."""
    marker = tmp_path / "imported"
    (tmp_path / "canary_estimators.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nclass Canary:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = make_spec(estimators=ESTIMATORS, shards=3, allowed_modules=["sklearn.", "canary_"])
    row = tampered(manifest, estimator="canary_estimators.Canary")
    assert check_manifest_row(row, spec) == expected(
        "estimator", row, "'sklearn.linear_model.Ridge', the path sweep.estimators[0] ('ridge') names",
        "'canary_estimators.Canary'",
    )  # fmt: skip
    assert not marker.exists()
    assert "canary_estimators" not in sys.modules


def test_the_expected_runs_are_built_once_per_spec(
    spec: SweepSpec, manifest: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per row the check is a lookup: the spec's runs are expanded once, not per row."""
    calls = []
    original = row_check._entries
    monkeypatch.setattr(row_check, "_entries", lambda s: calls.append(s) or original(s))
    monkeypatch.setattr(row_check, "_BY_HASH", {})
    monkeypatch.setattr(row_check, "_LAST", [])
    for _, row in manifest.iterrows():
        check_manifest_row(row, spec)
    manifest_row_problems(manifest, spec)
    assert len(calls) == 1


def test_check_manifest_counts_the_bad_rows(spec: SweepSpec, manifest: pd.DataFrame) -> None:
    """On the driver: one error naming how many rows are off, and the first one's problem."""
    bad = manifest.copy()
    bad.loc[[1, 4], "estimator"] = "subprocess.getoutput"
    first = check_manifest_row(bad.iloc[1], spec)
    message = (
        f"2 of {len(bad)} run configurations in model 'sweep_manifest' are not runs of the sweep "
        "spec, so none is "
        f"trained. The first: {first}"
    )
    with pytest.raises(SweepDataError, match=f"^{re.escape(message)}$"):
        check_manifest(bad, spec)


def test_train_unit_never_runs_a_rewritten_row(
    tmp_path: Path, regression_group: pd.DataFrame
) -> None:
    """End to end: the rewritten row is a failed run with the check's message; the command never ran."""
    spec = make_spec(
        estimators=ESTIMATORS[:1],
        preprocessing={"scale": "standard"},
        features={"exclude": ["row_id"]},
    )
    built = build_manifest(spec, group_stats(regression_group, spec), parallelism=1)
    marker = tmp_path / "shell-ran"
    built.loc[0, "estimator"] = "subprocess.getoutput"
    built.loc[0, "params"] = json.dumps({"cmd": f"touch {marker}"})
    runs = train_unit(regression_group, built, spec)
    assert not marker.exists(), "the rewritten manifest row ran a shell command on the worker"
    assert runs["status"].tolist() == ["failed", "ok"]
    assert runs.loc[0, "error"] == check_manifest_row(built.iloc[0], spec)
    assert np.isfinite(runs.loc[1, "rmse"])
