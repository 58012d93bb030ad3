#!/usr/bin/env bash
# Create .venv (once) and install reinforcelab into it, editable, with the pinned dev constraints:
# the test suite's extras, the checks' tools (dev) and the documentation site's (docs).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
  -e ".[test,dev,docs]"
