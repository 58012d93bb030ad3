#!/usr/bin/env bash
# Set up, then run the default test suite (slow tests are skipped unless RUN_SLOW=1 or -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
