#!/usr/bin/env bash
# One command from a fresh clone to the test suite: set up .venv, then pytest (unit + dbt integration).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python -m pytest "$@"
