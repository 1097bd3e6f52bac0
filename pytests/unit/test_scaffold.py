"""`python -m dbt_sweep new` without dbt: the files it writes, its refusals and its messages.

The build of a scaffolded project is `pytests/integration/test_new_project.py`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dbt_sweep.cli import new
from dbt_sweep.scaffold import (
    GITIGNORE_LINES,
    ScaffoldError,
    add_gitignore_lines,
    find_project,
    plan_files,
    sweep_options,
)
from dbt_sweep.scaffold.files import sweep_files
from dbt_sweep.spec import parse_spec

REPO = Path(__file__).resolve().parents[2]
ARGS = ["sales", "--source", "feat_sales", "--group-by", "store", "--key", "row_id",
        "--target", "amount", "--task", "regression"]  # fmt: skip
SWEEP_FILES = ["_sales__models.yml", "sales_best_models.sql", "sales_manifest.py",
               "sales_runs.py", "sales_trials.sql"]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty dbt project: dbt_project.yml only."""
    (tmp_path / "dbt_project.yml").write_text("name: shop\nversion: '1.0'\nprofile: shop\n")
    return tmp_path


def _options(task: str = "regression", group_by: tuple[str, ...] = ("store",)):
    return sweep_options("sales", source="feat_sales", group_by=list(group_by), key="row_id",
                         target="amount", task=task)  # fmt: skip


def _run(project: Path, *args: str) -> int:
    return new.main([*args, "--project-dir", str(project)])


def _models(text: str) -> dict[str, dict]:
    return {model["name"]: model for model in yaml.safe_load(text)["models"]}


# ---------- what it writes


def test_new_writes_the_sweep_files_and_the_writer_macro(project: Path, capsys) -> None:
    assert _run(project, *ARGS) == 0
    assert sorted(p.name for p in (project / "models" / "sales").iterdir()) == SWEEP_FILES
    assert (project / "macros" / "py_write_table.sql").read_text().count(
        "sweep.py_write_table"
    ) == 1
    out = capsys.readouterr().out
    assert "  models/sales/sales_runs.py\n" in out
    assert "  macros/py_write_table.sql\n" in out
    assert "  dbt build -s +sales_best_models\n" in out


def test_new_writes_under_the_first_model_path_and_keeps_a_project_writer(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text(
        "name: shop\nmodel-paths: [src_models, more]\nmacro-paths: [my_macros]\n"
    )
    (tmp_path / "my_macros").mkdir()
    (tmp_path / "my_macros" / "spark.sql").write_text(
        "{% macro py_write_table(compiled_code, target_relation) %}{% endmacro %}"
    )
    assert _run(tmp_path, *ARGS) == 0
    assert sorted(p.name for p in (tmp_path / "src_models" / "sales").iterdir()) == SWEEP_FILES
    assert sorted(p.name for p in (tmp_path / "my_macros").iterdir()) == ["spark.sql"]


@pytest.mark.parametrize(
    ("task", "group_by"),
    [("regression", ("store",)), ("classification", ("store",)),
     ("regression", ("region", "store"))],
    ids=["regression", "classification", "two-group-columns"],
)  # fmt: skip
def test_the_starter_spec_parses_and_is_shared_by_manifest_and_runs(task, group_by) -> None:
    options = _options(task, group_by)
    models = _models(sweep_files(options)["_sales__models.yml"])
    manifest, runs = models["sales_manifest"], models["sales_runs"]
    assert manifest["config"]["sweep"] == runs["config"]["sweep"]
    spec = parse_spec(runs["config"]["sweep"], model="sales_runs")
    assert (spec.source, spec.group_by, spec.key, spec.target, spec.task) == (
        "feat_sales", list(group_by), "row_id", "amount", task
    )  # fmt: skip
    assert spec.primary_metric == {"regression": "rmse", "classification": "roc_auc"}[task]
    assert len(spec.estimators) == 2
    text = sweep_files(options)["_sales__models.yml"]
    assert text.count("sweep: &sales_sweep\n") == 1 and text.count("sweep: *sales_sweep\n") == 1


def test_each_model_states_its_grain_and_the_package_tests_go_through_its_namespace() -> None:
    models = _models(sweep_files(_options(group_by=("region", "store")))["_sales__models.yml"])
    assert sorted(models) == ["sales_best_models", "sales_manifest", "sales_runs", "sales_trials"]
    for model in models.values():
        assert model["description"].startswith("One row per "), model["name"]
    runs = models["sales_runs"]
    assert {k: v for k, v in runs["config"].items() if k != "sweep"} == {
        "materialized": "incremental",
        "incremental_strategy": "insert_overwrite",
        "on_schema_change": "fail",
        "sweep_retry": "{{ var('sweep_retry', '') }}",
    }
    run_key = next(c for c in runs["columns"] if c["name"] == "run_key")
    assert run_key["data_tests"][:2] == ["not_null", "unique"]
    tests = [next(iter(test)) for model in models.values() for test in model.get("data_tests", [])]
    assert tests == [
        "sweep.unique_combination_of_columns",
        "sweep.row_count_equals",
        "sweep.sweep_failure_rate",
        "sweep.one_best_model_per_group",
        "sweep.unique_combination_of_columns",
    ]
    best = models["sales_best_models"]["data_tests"][0]["sweep.one_best_model_per_group"]
    assert best["arguments"] == {"group_by": ["region", "store"], "runs": "ref('sales_runs')"}


def test_the_sql_models_call_the_package_macros() -> None:
    files = sweep_files(_options(group_by=("region", "store")))
    assert files["sales_best_models.sql"].endswith(
        "{{ sweep.sweep_best_models(ref('sales_runs'), group_by=['region', 'store']) }}\n"
    )
    assert files["sales_trials.sql"].endswith(
        "{{ sweep.sweep_trials(ref('sales_runs'), group_by=['region', 'store']) }}\n"
    )


def test_the_python_models_are_the_demos() -> None:
    """With the demo's names, the generated models are python_models/ byte for byte."""
    options = sweep_options("sweep", source="feat_demo_regression", group_by=["group_id"],
                            key="row_id", target="y", task="regression")  # fmt: skip
    files = sweep_files(options)
    for name in ("sweep_manifest.py", "sweep_runs.py"):
        assert files[name] == (REPO / "python_models" / name).read_text(), name
        ast.parse(files[name])


@pytest.mark.parametrize(
    ("task", "runs_per_group"), [("regression", 3), ("classification", 4)], ids=["reg", "clf"]
)
def test_the_starter_spec_trains_every_group(task: str, runs_per_group: int) -> None:
    """The spec as written trains on a table with a text column and a missing value."""
    from dbt_sweep.training import train_group

    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        {
            "store": np.repeat(["s1", "s2"], 60),
            "row_id": np.arange(120),
            "x": rng.normal(size=120),
            "channel": rng.choice(["web", "shop"], size=120),
        }
    )
    rows.loc[3, "x"] = np.nan
    signal = rows["x"].fillna(0) + (rows["channel"] == "web")
    rows["amount"] = signal if task == "regression" else (signal > 0.5).astype(int)
    raw = _models(sweep_files(_options(task))["_sales__models.yml"])["sales_runs"]["config"]
    runs = train_group(rows, parse_spec(raw["sweep"], model="sales_runs"), raise_errors=True)
    assert len(runs) == 2 * runs_per_group
    assert set(runs["status"]) == {"ok"}, runs[["estimator_name", "error"]]


def test_plan_files_validates_the_spec_before_anything_is_written(project, monkeypatch) -> None:
    from dbt_sweep.exceptions import SweepSpecError
    from dbt_sweep.scaffold import write

    broken = {**sweep_files(_options())}
    broken["_sales__models.yml"] = broken["_sales__models.yml"].replace("task: regression", "")
    monkeypatch.setattr(write, "sweep_files", lambda options: broken)
    with pytest.raises(SweepSpecError, match=r"The 'sweep.task' key of the sweep spec"):
        plan_files(_options(), find_project(project))
    assert not (project / "models").exists()


# ---------- refusals


def test_new_refuses_to_overwrite_and_names_every_existing_file(project: Path, capsys) -> None:
    folder = project / "models" / "sales"
    folder.mkdir(parents=True)
    (folder / "sales_runs.py").write_text("mine\n")
    (folder / "_sales__models.yml").write_text("mine\n")
    assert _run(project, *ARGS) == 1
    err = capsys.readouterr().err
    assert err == (
        "python -m dbt_sweep new: error: Nothing was written: 2 of the 6 files exist already "
        "(models/sales/sales_runs.py, models/sales/_sales__models.yml). Choose another sweep NAME, "
        "or move those files away and run the command again.\n"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["_sales__models.yml", "sales_runs.py"]
    assert (folder / "sales_runs.py").read_text() == "mine\n"
    assert not (project / "macros").exists()


def test_a_second_new_of_the_same_sweep_writes_nothing(project: Path) -> None:
    assert _run(project, *ARGS) == 0
    before = {p: p.read_text() for p in project.rglob("*") if p.is_file()}
    assert _run(project, *ARGS) == 1
    assert {p: p.read_text() for p in project.rglob("*") if p.is_file()} == before


def test_new_outside_a_dbt_project_says_where_it_looked(tmp_path: Path, capsys) -> None:
    assert _run(tmp_path, *ARGS) == 2
    assert capsys.readouterr().err == (
        f"python -m dbt_sweep new: error: No dbt project in {tmp_path.resolve()}: the "
        "--project-dir option must name the folder that holds dbt_project.yml. Run the command "
        "from your dbt project, or pass --project-dir PATH (`dbt init` creates a project).\n"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "sales-2"},
         "The NAME argument must be a dbt model name: letters, digits and underscores, not "
         "starting with a digit. Got 'sales-2' instead; try 'sales_2'."),
        ({"name": "2sales"},
         "The NAME argument must be a dbt model name: letters, digits and underscores, not "
         "starting with a digit. Got '2sales' instead; try '_2sales'."),
        ({"source": "feat sales"},
         "The --source argument must be the name of a dbt model or seed: letters, digits and "
         "underscores, not starting with a digit. Got 'feat sales' instead; try 'feat_sales'."),
        ({"task": "regress"},
         "The --task option must be one of ['regression', 'classification']. Got 'regress' "
         "instead."),
        ({"group_by": [","]},
         "The --group-by option must name at least one column (repeat it or separate columns "
         "with commas, e.g. --group-by region,store). Got [','] instead."),
        ({"group_by": ["store,store"]},
         "The --group-by option names ['store'] more than once; name each once."),
        ({"target": "store"},
         "The --target column 'store' is also a --group-by column; a group column is the same "
         "for every row of a group, so it cannot be the row key or the target."),
        ({"key": "amount"},
         "The --key and --target options both name 'amount'; the key identifies a row and is "
         "never a feature or the target: name two different columns."),
    ],
    ids=["name-dash", "name-digit", "source-space", "task", "no-group", "group-twice",
         "target-is-group", "key-is-target"],
)  # fmt: skip
def test_bad_arguments_are_named_with_what_was_expected(changes, message) -> None:
    arguments = {"source": "feat_sales", "group_by": ["store"], "key": "row_id",
                 "target": "amount", "task": "regression", **changes}  # fmt: skip
    with pytest.raises(ScaffoldError) as raised:
        sweep_options(arguments.pop("name", "sales"), **arguments)
    assert raised.value.problems == [message]


def test_every_bad_argument_is_reported_at_once(project: Path, capsys) -> None:
    args = ["sales-x", "--source", "feat_sales", "--group-by", "store", "--key", "row_id",
            "--target", "amount", "--task", "clustering"]  # fmt: skip
    assert _run(project, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m dbt_sweep new: error: The NAME argument must be")
    assert "Got 'clustering' instead." in err
    assert not (project / "models").exists()


def test_group_by_takes_commas_and_repeats(project: Path) -> None:
    args = [*ARGS[:4], "region,store", "--group-by", "channel", *ARGS[5:]]
    assert _run(project, *args) == 0
    text = (project / "models" / "sales" / "_sales__models.yml").read_text()
    assert "group_by: [region, store, channel]" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "NAME is required"), (["sales", "--source", "feat_sales"],
      "the sweep 'sales' needs --group-by, --key, --target, --task.")],
    ids=["no-name", "missing-options"],
)  # fmt: skip
def test_usage_errors_print_a_message_not_a_traceback(project, args, message) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dbt_sweep", "new", *args, "--project-dir", str(project)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "usage: python -m dbt_sweep new" in result.stderr


# ---------- what it prints about the project


def test_new_says_what_the_project_still_needs(project: Path, capsys) -> None:
    assert _run(project, *ARGS) == 0
    out = capsys.readouterr().out
    assert "add it to packages.yml and run `dbt deps` first" in out
    assert "require_explicit_package_overrides_for_builtin_materializations: false" in out
    assert "Note: no model or seed file named 'feat_sales'" in out
    assert "".join(f"  {line}\n" for line in GITIGNORE_LINES) in out + "\n"


def test_gitignore_lines_are_appended_once(project: Path, capsys) -> None:
    (project / ".gitignore").write_text("/target\nmlruns/")
    assert _run(project, *ARGS, "--gitignore") == 0
    text = (project / ".gitignore").read_text()
    assert text.startswith("/target\nmlruns/\n# dbt-sweep:")
    # `/target` already ignores target/: only the lines no pattern covers are appended
    assert [line for line in GITIGNORE_LINES if line not in text.splitlines()] == ["target/"]
    assert _run(project, "--gitignore") == 0
    assert (project / ".gitignore").read_text() == text
    assert add_gitignore_lines(project / ".gitignore") == []
    assert capsys.readouterr().out.endswith(".gitignore has every line dbt-sweep needs already.\n")
