#!/usr/bin/env bash
# The whole job on a fresh machine: environments from the project's files, then apply and verify.
#   PATCHER_UPSTREAM  upstream URL or path (default: the recipe's GitHub URL)
#   MODEL             celebamask (default) or cityscapes
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
model=${MODEL:-celebamask}
upstream=()
[ -n "${PATCHER_UPSTREAM:-}" ] && upstream=(--upstream "$PATCHER_UPSTREAM")
python -m patcher apply --model "$model" "${upstream[@]}"
python -m patcher verify --model "$model"
