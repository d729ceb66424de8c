#!/usr/bin/env bash
# How a plain `diffuse train` ends when it cannot go on as planned: Ctrl-C
# (SIGINT) stops it at the next step boundary with a checkpoint, like a
# scheduler's SIGTERM, and the run resumes from it; a run whose gradients stay
# non-finite ends with an error after train.max_consecutive_skips steps
# instead of skipping to "done".
# Usage: test_training_stops.sh path/to/diffuse path/to/source-dir
set -uo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

prepare_fmnist_test_split "$diffuse" "$work/test.h5" || fail "prepare idx"
train=("$diffuse" train --config "$source_dir/configs/tiny.yaml" --set "data.train=$work/test.h5"
  --set train.log_every=1 --set train.checkpoint_every=1000)

# 1. Ctrl-C: a checkpoint at the step it stopped after, exit status 0, and the way to continue.
"${train[@]}" --run-dir "$work/run" --set train.steps=100000 >"$work/int.log" 2>&1 &
pid=$!
if wait_for_line "$work/int.log" "^step 2/"; then
  kill -INT $pid
else
  fail "training did not reach step 2: $(cat "$work/int.log")"
fi
wait $pid
status=$?
stopped=$(sed -n 's/.*stopped at step \([0-9]*\) by SIGINT.*/\1/p' "$work/int.log")
if [[ $status -eq 0 && -n $stopped && -f $work/run/checkpoints/ckpt-$(printf %08d "$stopped").h5 ]]; then
  pass "Ctrl-C stops at step $stopped with a checkpoint and exit status 0"
else
  fail "SIGINT stop (exit $status): $(cat "$work/int.log")"
fi
"${train[@]}" --run-dir "$work/run" --set train.steps=$((${stopped:-0} + 1)) --resume auto >"$work/resume.log" 2>&1 &&
  grep -q "resumed from .* at step ${stopped:-x}" "$work/resume.log" &&
  pass "the stopped run resumes from its checkpoint" || fail "resume after SIGINT: $(cat "$work/resume.log")"

# 2. lr = 1e3 blows the model up: the run ends with an error, not "done".
"${train[@]}" --run-dir "$work/diverged" --set train.steps=40 --set train.lr=1e3 >"$work/diverged.log" 2>&1
status=$?
if [[ $status -ne 0 ]] && grep -q "^error: training diverged: the gradients of 10 steps in a row" "$work/diverged.log" &&
  ! grep -q "^done" "$work/diverged.log"; then
  pass "a diverged run ends with an error after train.max_consecutive_skips skipped steps"
else
  fail "diverged run (exit $status): $(tail -n 3 "$work/diverged.log")"
fi

finish "training stop"
