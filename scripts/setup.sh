#!/usr/bin/env bash
# Creates .venv and installs dbt-sweep with its test extras. Sourced by demo.sh and test.sh.
# dbt discovers plugins with pkgutil.iter_modules(), which cannot see a package behind setuptools'
# editable import hook. This project's src layout gets a static .pth path entry instead, which it can
# see (pytests/integration/test_session_method.py checks it on every run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v java >/dev/null 2>&1; then
    echo "dbt-sweep needs Java 17 for Spark: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)." >&2
    exit 1
fi
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
[ -f profiles.yml ] || cp profiles.example.yml profiles.yml
export PATH="$PWD/.venv/bin:$PATH"
export DBT_PROFILES_DIR="$PWD"
# Spark binds to loopback only (its UI would otherwise listen on 0.0.0.0).
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
