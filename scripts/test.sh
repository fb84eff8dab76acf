#!/usr/bin/env bash
# Create .venv from the project's own files and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
NEED_CHROMIUM=1 source scripts/env.sh
python -m pytest -q "$@"
