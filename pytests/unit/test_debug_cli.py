"""`python -m dbt_sweep debug`: the --group and --estimator arguments, and usage errors answered
with a message and an exit code, not a traceback (issue 16, item 8)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dbt_sweep.cli import debug
from dbt_sweep.cli.debug import DebugError, check_estimator, group_values

from conftest import make_spec

REPO = Path(__file__).resolve().parents[2]
TWO = ["region", "store"]


@pytest.mark.parametrize(
    ("group_by", "groups", "expected"),
    [
        (["g"], ["g03"], {"g": "g03"}),
        (["g"], ["g=g03"], {"g": "g03"}),
        (["g"], ["Smith, J"], {"g": "Smith, J"}),
        (["g"], ["g=a=b"], {"g": "a=b"}),
        (TWO, ["region=north,store=s1"], {"region": "north", "store": "s1"}),
        (TWO, ["store=s1, region=north"], {"region": "north", "store": "s1"}),
        (TWO, ["region=north", "store=s1"], {"region": "north", "store": "s1"}),
        (TWO, ["region=Smith, J,store=s1"], {"region": "Smith, J", "store": "s1"}),
        (["a", "b", "c"], ["a=1,b=2", "c=3"], {"a": "1", "b": "2", "c": "3"}),
    ],
    ids=[
        "bare-value", "one-pair", "bare-value-with-comma", "value-with-equals", "pairs-in-one",
        "pairs-any-order-and-spaces", "repeated", "value-with-comma", "mixed",
    ],
)  # fmt: skip
def test_group_values(group_by, groups, expected) -> None:
    values = group_values(group_by, groups, model="m")
    assert values == expected
    assert list(values) == group_by  # in the spec's order, whatever the command line's


@pytest.mark.parametrize(
    ("group_by", "groups", "message"),
    [
        (TWO, ["north"],
         "The --group option of model 'm' must name each of the group columns ['region', 'store'] "
         "as column=value. Got 'north' instead. Use --group region=...,store=...."),
        (TWO, ["region=north", "s1"],
         "Each --group item of model 'm' must be column=value when several are given. Got 's1' "
         "instead. Use --group region=...,store=...."),
        (TWO, ["region=north,shop=s1"],
         "The --group column 'shop' is not a group column of model 'm'. Valid group columns are: "
         "['region', 'store']."),
        (["g"], ["group=g03"],
         "The --group column 'group' is not a group column of model 'm'. Valid group columns are: "
         "['g']."),
        (TWO, ["region=north", "region=south,store=s1"],
         "The --group column 'region' of model 'm' is given twice: 'north' and 'south'. Give it "
         "once."),
        (TWO, ["region=north"],
         "The --group option of model 'm' must give a value for every group column ['region', "
         "'store']. Missing: ['store']. Use --group region=...,store=...."),
    ],
    ids=["bare-value-two-columns", "bare-item", "unknown-column", "unknown-column-one", "twice",
         "missing"],
)  # fmt: skip
def test_group_values_usage_errors(group_by, groups, message) -> None:
    with pytest.raises(DebugError, match=f"^{re.escape(message)}$") as caught:
        group_values(group_by, groups, model="m")
    assert caught.value.exit_code == 2


def test_check_estimator() -> None:
    spec = make_spec()
    check_estimator(spec, None, model="m")
    check_estimator(spec, "svr", model="m")
    message = (
        "The --estimator option of model 'm' must be one of the spec's estimator names "
        "['ridge', 'svr']. Got 'SVR' instead."
    )
    with pytest.raises(DebugError, match=f"^{re.escape(message)}$") as caught:
        check_estimator(spec, "SVR", model="m")
    assert caught.value.exit_code == 2


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo dbt project copied, with the example profile (dbt parses it; nothing runs Spark)."""
    folder = tmp_path_factory.mktemp("demo")
    for name in ("models", "python_models", "macros", "seeds"):
        shutil.copytree(REPO / name, folder / name)
    shutil.copy(REPO / "dbt_project.yml", folder)
    shutil.copy(REPO / "profiles.example.yml", folder / "profiles.yml")
    return folder


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["no_such_model", "--group", "g03"], 1,
         "dbt_sweep debug: No model 'no_such_model' in the project. Models with a sweep spec: "
         "['diagnosis_sweep_manifest', 'diagnosis_sweep_runs', 'sweep_manifest', "
         "'sweep_predictions', 'sweep_runs']."),
        (["sweep_runs", "--group", "region=north"], 2,
         "dbt_sweep debug: The --group column 'region' is not a group column of model "
         "'sweep_runs'. Valid group columns are: ['group_id']."),
        (["sweep_runs", "--group", "g03", "--estimator", "ridge"], 2,
         "dbt_sweep debug: The --estimator option of model 'sweep_runs' must be one of the spec's "
         "estimator names ['linear_regression', 'svr', 'svr_optuna', 'poisson_broken']. Got "
         "'ridge' instead."),
    ],
    ids=["unknown-model", "wrong-group-column", "unknown-estimator"],
)  # fmt: skip
def test_usage_errors_exit_with_a_message(demo, capsys, args, code, message) -> None:
    """Answered from `dbt parse` alone, before any query: one line on stderr, no traceback."""
    options = ["--project-dir", str(demo), "--profiles-dir", str(demo)]
    assert debug.main([*args, *options]) == code
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == message
    assert "Traceback" not in captured.err + captured.out


def test_a_missing_group_is_argparse_usage(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        debug.main(["sweep_runs"])
    assert caught.value.code == 2
    assert "the following arguments are required: --group" in capsys.readouterr().err
