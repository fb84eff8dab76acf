#!/usr/bin/env bash
# Create .venv from the project's own files, lint (ruff) and type-check (mypy) the code, then run the test
# suite in two processes (pytest-xdist, one test file at a time each, so a file's fixtures are built once;
# PATCHER_TEST_WORKERS=0 runs it in this process). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
NEED_CHROMIUM=1 source scripts/env.sh
echo "ruff check patcher tests scripts" >&2
ruff check patcher tests scripts
echo "mypy (patcher/, settings in pyproject.toml)" >&2
mypy
python -m pytest -q -n "${PATCHER_TEST_WORKERS:-2}" --dist loadfile "$@"
