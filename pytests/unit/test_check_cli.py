"""`python -m dbt_sweep check`: every sweep spec of a project, validated from `dbt parse` (no Spark),
with the build's messages. Runs on copies of the demo project."""

from __future__ import annotations

from pathlib import Path

from dbt_sweep.cli import check

from conftest import demo_copy


def run(project: Path) -> int:
    return check.main(["--project-dir", str(project), "--profiles-dir", str(project)])


def test_the_demo_passes_with_one_line_per_sweep_model(tmp_path, capsys):
    assert run(demo_copy(tmp_path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "diagnosis_sweep_manifest", "diagnosis_sweep_runs", "sweep_manifest",
        "sweep_predictions", "sweep_runs",
    ]  # fmt: skip
    assert lines[-1] == (
        "sweep_runs: ok - trains a regression sweep of 'feat_demo_regression' by ['group_id']: "
        "4 estimator(s) (linear_regression, svr, svr_optuna, poisson_broken), primary metric "
        "rmse (minimize)"
    )


def test_a_broken_spec_fails_naming_the_model_and_the_key(tmp_path, capsys):
    project = demo_copy(tmp_path)
    specs = project / "python_models" / "_python_models__models.yml"
    text = specs.read_text()
    broken = text.replace("metrics: [roc_auc, accuracy, f1, log_loss]", "metrics: [roc_auc, rmse]")
    specs.write_text(
        broken.replace("split: {kind: random, test_size: 0.2", "split: {kind: random, test_size: 2")
    )
    assert run(project) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "dbt_sweep check: 5 problem(s) in the sweep specs of the project."
    # the classification spec is shared by its manifest and runs models, the regression one by three
    assert sum("in model 'diagnosis_sweep_runs'" in line for line in err) == 1
    assert sum("'sweep.split.test_size'" in line for line in err) == 3
    assert any(
        line.startswith(
            "The 'sweep.metrics[1]' key of the sweep spec in model 'diagnosis_sweep_runs'"
        )
        for line in err
    )
