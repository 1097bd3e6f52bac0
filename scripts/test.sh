#!/usr/bin/env bash
# One command from a fresh clone to the test suite: set up .venv, then pytest (unit + dbt integration).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Two processes, one test file each at a time: a file's tests share its dbt project and Spark.
python -m pytest -n 2 --dist loadfile "$@"
