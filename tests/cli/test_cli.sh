#!/usr/bin/env bash
# The diffuse command line end to end, as a person uses it: prepare the real
# Fashion-MNIST test split, train configs/tiny.yaml, resume, sample a PNG grid
# and an HDF5 sample set, and check that bad input fails with one readable
# message and a non-zero exit without overwriting anything.
# Usage: test_cli.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

# expect_error NAME PATTERN COMMAND...: the command fails, prints PATTERN on stderr in an "error:" line.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  local status=0
  "$@" >"$work/out" 2>"$work/err" || status=$?
  if [[ $status -ne 0 ]] && grep -q "^error: .*$pattern" "$work/err"; then
    pass "$name"
  else
    fail "$name (exit $status): $(cat "$work/err")"
  fi
}

prepare_fmnist_test_split "$diffuse" "$work/test.h5" && pass "prepare idx"

config="$source_dir/configs/tiny.yaml"
common=(--config "$config" --set "data.train=$work/test.h5" --set train.checkpoint_every=2)
"$diffuse" train "${common[@]}" --run-dir "$work/run" --set train.steps=2 >"$work/train.log"
grep -q "step 2/2" "$work/train.log" && pass "train prints progress" || fail "train progress: $(cat "$work/train.log")"
[[ -f $work/run/checkpoints/ckpt-00000002.h5 && -f $work/run/metrics.jsonl && -f $work/run/config.yaml ]] &&
  pass "run directory has checkpoint, metrics, config" || fail "run directory contents: $(ls -R "$work/run")"

"$diffuse" train "${common[@]}" --run-dir "$work/run" --set train.steps=4 --resume auto >"$work/resume.log" 2>&1
grep -q "resumed from .*ckpt-00000002.h5 at step 2" "$work/resume.log" && [[ -f $work/run/checkpoints/ckpt-00000004.h5 ]] &&
  pass "resume auto continues" || fail "resume: $(cat "$work/resume.log")"

"$diffuse" sample --ckpt "$work/run/checkpoints/ckpt-00000004.h5" --sampler ddim --steps 3 --guidance 1 --n 20 \
  --seed 1 --out "$work/grid.png" 2>/dev/null
[[ $(head -c 8 "$work/grid.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] && pass "sample writes a PNG" ||
  fail "sample PNG"
"$diffuse" sample --ckpt "$work/run/checkpoints/ckpt-00000004.h5" --sampler ddpm --steps 3 --n 4 --seed 1 \
  --out "$work/samples.h5" 2>/dev/null && "$diffuse" sample --ckpt "$work/run/checkpoints/ckpt-00000004.h5" \
  --sampler ddpm --steps 3 --n 4 --seed 1 --batch 3 --ema none --out "$work/samples-raw.h5" 2>/dev/null &&
  pass "sample writes an HDF5 sample set" || fail "sample h5"

# Distillation: one stage 4 -> 2 steps; the student samples in its own 2 steps.
"$diffuse" distill --config "$config" --set "data.train=$work/test.h5" --teacher "$work/run/checkpoints/ckpt-00000004.h5" \
  --run-dir "$work/distill" --from 4 --to 2 --set distill.steps_per_stage=2 >"$work/distill.log" 2>&1 &&
  "$diffuse" sample --ckpt "$work/distill/stage-1-2steps/checkpoints/ckpt-00000002.h5" --n 4 \
    --out "$work/student.png" >"$work/student.log" 2>&1 && grep -q "(ddim, 2 steps, NFE 2)" "$work/student.log" &&
  pass "distill writes a 2-step student that samples in 2 steps" ||
  fail "distill: $(cat "$work/distill.log" "$work/student.log" 2>/dev/null)"

# A process killed at any moment, even mid-checkpoint, leaves a loadable newest checkpoint.
"$diffuse" train "${common[@]}" --run-dir "$work/killed" --set train.steps=1000 --set train.checkpoint_every=1 \
  >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1200); do  # up to 2 minutes on a loaded machine
  [[ $(ls "$work/killed/checkpoints" 2>/dev/null | grep -c 'h5$') -ge 2 ]] && break
  sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null || true
"$diffuse" train "${common[@]}" --run-dir "$work/killed" --resume auto --set train.steps=1 >"$work/killed.log" 2>&1 &&
  grep -q "resumed from" "$work/killed.log" && pass "killed run resumes from its newest complete checkpoint" ||
  fail "killed run: $(cat "$work/killed.log")"

# Bad input: one readable message, non-zero exit, nothing overwritten.
printf 'train:\n  stepz: 3\n' >"$work/bad.yaml"
expect_error "unknown config key" "unknown config key 'train.stepz' in $work/bad.yaml" \
  "$diffuse" train --config "$work/bad.yaml" --run-dir "$work/bad-run"
expect_error "wrong type in --set" "config key 'train.steps' in --set: expected an integer" \
  "$diffuse" train "${common[@]}" --run-dir "$work/bad-run" --set train.steps=ten
expect_error "fresh run over existing checkpoints" "already holds checkpoints" \
  "$diffuse" train "${common[@]}" --run-dir "$work/run"
expect_error "dataset disagrees with the model" "has 1 channels but model.image_channels is 3" \
  "$diffuse" train "${common[@]}" --run-dir "$work/rgb-run" --set model.image_channels=3
expect_error "resume another architecture" "parameter '.*' has shape .* in this model but" \
  "$diffuse" train "${common[@]}" --run-dir "$work/wide-run" --set model.channels=64 \
  --resume "$work/run/checkpoints/ckpt-00000004.h5"
expect_error "distill to a step count that is not a halving" "--to 3 must be --from 8 divided by a power of two" \
  "$diffuse" distill --config "$config" --teacher "$work/run/checkpoints/ckpt-00000004.h5" --run-dir "$work/distill-bad" \
  --from 8 --to 3
expect_error "existing sample output" "already exists" \
  "$diffuse" sample --ckpt "$work/run/checkpoints/ckpt-00000004.h5" --n 4 --out "$work/grid.png"
head -c 1000 $fmnist/t10k-labels-idx1-ubyte.gz | gunzip -c >"$work/truncated-labels" 2>/dev/null || true
expect_error "truncated IDX" "truncated-labels" \
  "$diffuse" prepare idx --images $fmnist/t10k-images-idx3-ubyte.gz --labels "$work/truncated-labels" \
  --out "$work/truncated.h5"
[[ ! -e $work/truncated.h5 ]] && pass "truncated input writes nothing" || fail "truncated input left a file"
head -c 4096 "$work/test.h5" >"$work/broken.h5"
expect_error "truncated HDF5 dataset" "broken.h5" \
  "$diffuse" train "${common[@]}" --run-dir "$work/broken-run" --set "data.train=$work/broken.h5"

finish CLI
