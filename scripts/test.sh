#!/usr/bin/env bash
# Create .venv from the project's own files, lint (ruff) and type-check (mypy) the code, then run the test
# suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
NEED_CHROMIUM=1 source scripts/env.sh
echo "ruff check patcher tests scripts" >&2
ruff check patcher tests scripts
echo "mypy (patcher/, settings in pyproject.toml)" >&2
mypy
python -m pytest -q "$@"
