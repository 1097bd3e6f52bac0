"""The driver's tracking imports start in the background when tracking is on (a fresh interpreter,
so nothing is imported before the call)."""

from __future__ import annotations

import json
import subprocess
import sys

_CODE = """
import json, sys
from dbt_sweep.tracking.store import WARMED, warm_imports
off = warm_imports(False)
before = [name in sys.modules for name in WARMED]
thread = warm_imports(True)
thread.join(120)
print(json.dumps({"off": off is None, "before": before, "name": thread.name,
                  "after": [name in sys.modules for name in WARMED]}))
"""


def test_warm_imports_load_mlflow_only_when_tracking() -> None:
    out = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["off"] and result["before"] == [False, False, False]
    assert result["after"] == [True, True, True] and result["name"] == "dbt-sweep-warm-tracking"
