#!/usr/bin/env bash
# How `diffuse train` owns and resumes its run directory: only ckpt-<digits>.h5
# files are checkpoints, a broken newest checkpoint falls back to the one
# before it, one process at a time per run directory, a failed resume leaves
# config.yaml as it was, and a changed configuration on resume is named.
# Usage: test_run_directory.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

prepare_fmnist_test_split "$diffuse" "$work/test.h5"
config="$source_dir/configs/tiny.yaml"
common=(--config "$config" --set "data.train=$work/test.h5" --set train.checkpoint_every=2)
run=$work/run
"$diffuse" train "${common[@]}" --run-dir "$run" --set train.steps=4 >"$work/first.log" 2>&1 ||
  fail "first run: $(cat "$work/first.log")"

# Another file beside the checkpoints is neither resumed from nor pruned.
cp "$run/checkpoints/ckpt-00000002.h5" "$run/checkpoints/ckpt-best.h5"
"$diffuse" train "${common[@]}" --run-dir "$run" --resume auto --set train.steps=6 >"$work/best.log" 2>&1 || true
if grep -q "resumed from .*ckpt-00000004.h5 at step 4" "$work/best.log" && [[ -f $run/checkpoints/ckpt-best.h5 ]] &&
  grep -q "done: checkpoint .*ckpt-00000006.h5" "$work/best.log"; then
  pass "resume auto takes the newest ckpt-<step>.h5 and leaves ckpt-best.h5 alone"
else
  fail "ckpt-best.h5 beside checkpoints: $(cat "$work/best.log")"
fi

# A truncated newest checkpoint: the run continues from the one before it, and says so.
truncate -s 2000 "$run/checkpoints/ckpt-00000006.h5"
status=0
"$diffuse" train "${common[@]}" --run-dir "$run" --resume auto --set train.steps=8 >"$work/truncated.log" 2>&1 ||
  status=$?
if [[ $status -eq 0 ]] && grep -q "warning: .*ckpt-00000006.h5.*falling back" "$work/truncated.log" &&
  grep -q "resumed from .*ckpt-00000004.h5 at step 4" "$work/truncated.log"; then
  pass "a truncated newest checkpoint falls back to the previous one with a warning"
else
  fail "truncated newest checkpoint (exit $status): $(cat "$work/truncated.log")"
fi

# A failed resume (another architecture) leaves the run's config.yaml as it was.
cp "$run/config.yaml" "$work/config.before"
status=0
"$diffuse" train "${common[@]}" --run-dir "$run" --resume auto --set model.channels=64 >"$work/arch.log" 2>&1 ||
  status=$?
if [[ $status -ne 0 ]] && grep -q "^error: .*has shape" "$work/arch.log" && cmp -s "$work/config.before" "$run/config.yaml"
then
  pass "a failed resume leaves config.yaml unchanged"
else
  fail "failed resume (exit $status): $(cat "$work/arch.log"; diff "$work/config.before" "$run/config.yaml")"
fi

# A resume with another seed names what changed.
"$diffuse" train "${common[@]}" --run-dir "$run" --resume auto --set train.steps=8 --set seed=5 \
  >"$work/seed.log" 2>&1 || true
grep -q "warning: resuming with a configuration that differs from the checkpoint's (seed 0 -> 5).*not on the same trajectory" \
  "$work/seed.log" && pass "a changed seed on resume is named in a warning" || fail "seed change: $(cat "$work/seed.log")"

# One process per run directory: a second train into a directory a running train holds fails and changes nothing.
busy=$work/busy
"$diffuse" train "${common[@]}" --run-dir "$busy" --set train.steps=100000 --set train.checkpoint_every=1 \
  >"$work/busy.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do  # up to 2 minutes on a loaded machine
  [[ -f $busy/checkpoints/ckpt-00000001.h5 ]] && break
  sleep 0.1
done
cp "$busy/config.yaml" "$work/busy-config.before"
status=0
"$diffuse" train "${common[@]}" --run-dir "$busy" --resume auto --set train.steps=1 --set seed=9 \
  >"$work/second.out" 2>"$work/second.err" || status=$?
if [[ $status -ne 0 ]] &&
  grep -q "^error: run directory $busy is in use by another diffuse process (pid $pid)" "$work/second.err" &&
  [[ $(grep -c "^error:" "$work/second.err") -eq 1 ]] && cmp -s "$work/busy-config.before" "$busy/config.yaml"; then
  pass "a second train into a directory in use fails with one line and changes nothing"
else
  fail "second train (exit $status): $(cat "$work/second.out" "$work/second.err")"
fi
# The kernel releases the lock however the holder ends, kill -9 included.
kill -9 $pid
wait $pid 2>/dev/null || true
"$diffuse" train "${common[@]}" --run-dir "$busy" --resume auto --set train.steps=1 >"$work/after.log" 2>&1 &&
  pass "the directory is free once its holder is killed" || fail "after kill -9: $(cat "$work/after.log")"

# Distillation's run directory is locked too.
mkdir -p "$work/distill"
exec {held}>"$work/distill/.lock"
flock -n $held
status=0
"$diffuse" distill --config "$config" --set "data.train=$work/test.h5" --teacher "$run/checkpoints/ckpt-00000008.h5" \
  --run-dir "$work/distill" --from 4 --to 2 --set distill.steps_per_stage=2 >"$work/distill.log" 2>&1 || status=$?
exec {held}>&-
if [[ $status -ne 0 ]] && grep -q "^error: run directory $work/distill is in use" "$work/distill.log" &&
  [[ -z $(ls "$work/distill") ]]; then
  pass "distill refuses a run directory in use"
else
  fail "distill into a directory in use (exit $status): $(cat "$work/distill.log")"
fi

finish "run directory"
