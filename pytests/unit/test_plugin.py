"""The session submission method's pieces, without Spark (mocks where dbt-spark would be)."""

from __future__ import annotations

import pytest
from dbt_common.exceptions import DbtRuntimeError

from dbt_sweep.plugin import registration
from dbt_sweep.plugin.helper import _timeout
from dbt_sweep.plugin.python_job import align_to_model_file, run_compiled_code, wrap_failure

RAW = "def model(dbt, session):\n    return 1 / 0\n"


def test_compiled_code_is_aligned_to_the_model_file():
    """The indentation dbt's statement block adds before the model's code is dropped."""
    compiled = "\n\n    " + RAW + "\n# postfix\n"
    assert align_to_model_file(compiled, RAW) == RAW + "\n# postfix\n"


def test_failure_shows_the_model_file_and_line_once():
    """The error names the model, shows its file and line, and hides the plugin's frames."""
    code = RAW + "\nmodel(None, spark)\n"
    with pytest.raises(ZeroDivisionError) as caught:
        run_compiled_code(
            code, raw_code=RAW, filename="python_models/m.py", module_name="dbt_model_m", spark=None
        )
    error = wrap_failure(caught.value, model="m", filename="python_models/m.py")
    text = error.msg
    assert text.startswith("Python model 'm' failed:\nTraceback (most recent call last):")
    assert 'File "python_models/m.py", line 2, in model\n    return 1 / 0' in text
    assert "python_job.py" not in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (5, 5.0), (0.5, 0.5)],
    ids=["unset", "int", "float"],
)
def test_timeout_accepts_positive_seconds(value, expected):
    """A timeout is a positive number of seconds, or unset."""
    assert _timeout(value, model="m") == expected


@pytest.mark.parametrize("value", [0, -1, "10", True], ids=["zero", "negative", "string", "bool"])
def test_timeout_rejects_anything_else(value):
    """A bad timeout names the model, the key and what was expected."""
    match = (
        r"The 'timeout' config of model 'm' must be a number of seconds greater than 0\. "
        rf"Got {value!r} instead\."
    )
    with pytest.raises(DbtRuntimeError, match=match):
        _timeout(value, model="m")


def test_registration_failure_is_logged_not_raised(monkeypatch):
    """A dbt-spark without the hooks we patch gets a plain warning, and SQL builds still work."""
    warnings: list[str] = []

    def broken() -> None:
        raise registration.RegistrationError("SparkAdapter.python_submission_helpers is gone")

    monkeypatch.setattr(registration, "_patch_spark_adapter", broken)
    monkeypatch.setattr(registration.logger, "warning", warnings.append)
    registration.register_session_method()
    assert warnings == [
        "dbt-sweep could not register the 'session' Python submission method with dbt-spark: "
        "SparkAdapter.python_submission_helpers is gone. This dbt-spark version is not supported; "
        "install dbt-spark~=1.11.0."
    ]


def test_registration_adds_the_session_method_and_default():
    """After registration, dbt-spark lists `session` and uses it by default for session profiles."""
    from unittest import mock

    from dbt.adapters.spark.impl import SparkAdapter

    from dbt_sweep.plugin.helper import SessionPythonJobHelper

    registration.register_session_method()
    adapter = mock.Mock()
    adapter.config.credentials.method = "session"
    assert SparkAdapter.python_submission_helpers.fget(adapter)["session"] is SessionPythonJobHelper
    assert SparkAdapter.default_python_submission_method.fget(adapter) == "session"
    adapter.config.credentials.method = "http"
    assert SparkAdapter.default_python_submission_method.fget(adapter) == "all_purpose_cluster"
    assert registration.JINJA_MARKER in SparkAdapter._available_
