#!/usr/bin/env bash
# The whole job on a fresh machine: Python and Node environments from the project's files, then
# apply, verify, build and check. Options (or the environment variables in brackets):
#   --upstream URL_OR_PATH   [PATCHER_UPSTREAM_<RECIPE>, or PATCHER_UPSTREAM for bisenetv2 only; patcher
#                            apply reads them]   default: the recipe's GitHub URL
#   --commit SHA             [COMMIT]            default: the recipe's pin (for a copy derived from the upstream)
#   (default weights: the recipe's published ones, recovered from its npm package: the trained model)
#   --checkpoint PREFIX      [CHECKPOINT]        a checkpoint instead, e.g. weights/celebamask_hq.ckpt
#   --random-weights         [RANDOM_WEIGHTS=1]  random weights instead, to try the pipeline
#   --recipe NAME_OR_PATH    [RECIPE]            default: bisenetv2; also white-box-cartoonization
#   --model NAME             [MODEL]             default: the recipe's first (bisenetv2: celebamask)
#   --out DIR                [OUT]               default: webmodel-MODEL
#   --litert                 [LITERT=1]          also LiteRT.js models (float32, int8) at 288, 448, 1024
#                                                (and 320, face mode's square, for the face parser)
set -euo pipefail
cd "$(dirname "$0")/.."
upstream=
commit=${COMMIT:-}
checkpoint=${CHECKPOINT:-}
random=${RANDOM_WEIGHTS:-}
recipe=${RECIPE:-bisenetv2}
model=${MODEL:-}
out=${OUT:-}
litert=${LITERT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --upstream) upstream=$2; shift 2 ;;
    --commit) commit=$2; shift 2 ;;
    --checkpoint) checkpoint=$2; shift 2 ;;
    --random-weights) random=1; shift ;;
    --recipe) recipe=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --litert) litert=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build_webmodel.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$litert" ] && NEED_CHROMIUM=1
source scripts/env.sh
# the model (default: the recipe's first) and its input's default size, HxW, from the recipe
read -r model size < <(python -c 'import sys; from patcher.recipe import find, load
try:
    r = load(find(sys.argv[1])); m = r.model(sys.argv[2] or next(iter(r.models)))
except Exception as exc:
    sys.exit(f"build_webmodel.sh: {exc}")
print(m.name, "x".join(map(str, m.input.default_size)))' "$recipe" "$model") || true
[ -n "${size:-}" ] || exit 13
out=${out:-webmodel-$model}
args=(--recipe "$recipe" --model "$model")
weights=(--weights published)
[ -n "$upstream" ] && upstream=(--upstream "$upstream") || upstream=()
[ -n "$commit" ] && upstream+=(--commit "$commit")
[ -n "$checkpoint" ] && weights=(--checkpoint "$checkpoint")
[ -n "$random" ] && weights=(--random-weights)
[ -n "$litert" ] && weights+=(--litert)
python -m patcher apply "${args[@]}" "${upstream[@]}"
python -m patcher verify "${args[@]}"
python -m patcher build "${args[@]}" "${weights[@]}" --out "$out"
python -m patcher check --recipe "$recipe" --model-dir "$out"
if [ "${weights[0]}" = "--weights" ]; then
  # the build against the published model it was recovered from, on the recipe's pictures at its default size
  python -m patcher check --recipe "$recipe" --model-dir "$out" --reference published --sizes "$size"
fi
