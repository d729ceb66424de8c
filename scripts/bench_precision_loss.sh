#!/usr/bin/env bash
# bf16 training against fp32: trains configs/fmnist_small.yaml for STEPS steps
# (default 200) twice from the same seed, once with train.precision fp32 and
# once with bf16 (same data order, noise and dropout draws), and compares the
# loss each run logs at its last step (the mean over its last log_every steps).
# Exits 1 when the bf16 loss is more than 3% from the fp32 one, and 2 when it
# cannot compare (no build/diffuse or datasets/fashion-mnist/train.h5, which the
# quickstart makes, or a CPU without bf16 products, where bf16 runs in fp32).
#
#   scripts/bench_precision_loss.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200}
data=datasets/fashion-mnist/train.h5
[[ -x build/diffuse ]] || { echo "bench_precision_loss: build/diffuse is missing: run scripts/setup.sh" >&2; exit 2; }
[[ -f $data ]] || { echo "bench_precision_loss: $data is missing: run build/diffuse prepare fashion-mnist --out datasets/fashion-mnist" >&2; exit 2; }
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT

# The loss of the last line of a run's metrics.jsonl.
last_loss() { tail -n 1 "$1/metrics.jsonl" | sed -E 's/.*"loss": ([-0-9.eE+]+).*/\1/'; }

for precision in fp32 bf16; do
  start=$SECONDS
  build/diffuse train --config configs/fmnist_small.yaml --run-dir "$runs/$precision" \
    --set train.steps="$steps" --set train.precision=$precision --set train.sample_every=0 \
    --set train.checkpoint_every="$steps" >"$runs/$precision.log" 2>&1 ||
    { cat "$runs/$precision.log" >&2; exit 2; }
  echo "$precision: $steps steps in $((SECONDS - start)) s, loss $(last_loss "$runs/$precision")"
done
if grep -q "computes in fp32" "$runs/bf16.log"; then
  echo "bench_precision_loss: this CPU has no bf16 products, so both runs were fp32: run it on a CPU with AVX512-BF16 or AMX" >&2
  exit 2
fi

fp32=$(last_loss "$runs/fp32")
bf16=$(last_loss "$runs/bf16")
awk -v fp32="$fp32" -v bf16="$bf16" 'BEGIN {
  relative = (bf16 - fp32) / fp32
  printf "bf16 loss %.5f against fp32 %.5f: %+.2f%% (limit 3%%)\n", bf16, fp32, 100 * relative
  exit (relative > 0.03 || relative < -0.03) ? 1 : 0
}'
