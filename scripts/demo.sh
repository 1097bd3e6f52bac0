#!/usr/bin/env bash
# One command from a fresh clone to the demo sweep: set up .venv, then `dbt build` on the embedded Spark.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
dbt build "$@"
