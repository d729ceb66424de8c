#!/usr/bin/env bash
# `diffuse train` under mpirun, as a person runs it on a cluster: preemption
# by SIGTERM on one rank (and SIGUSR1 through mpirun) stops every rank at a
# step boundary with a checkpoint and exit status 0; the run resumes on a
# different number of ranks; bad starts (a run directory in use among them)
# fail on every rank with one message.
# Usage: test_cli_mpi.sh MPIRUN path/to/diffuse path/to/source-dir
set -uo pipefail
mpirun=$1
diffuse=$2
source_dir=$3
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

prepare_fmnist_test_split "$diffuse" "$work/test.h5" || fail "prepare idx"

# Half the width of tiny.yaml: two ranks may share two cores with other tests.
train=("$diffuse" train --config "$source_dir/configs/tiny.yaml" --set "data.train=$work/test.h5"
  --set model.channels=16 --set train.batch_size=4 --set train.log_every=1 --set train.checkpoint_every=1000)
two_ranks=("$mpirun" -np 2 --oversubscribe)

# 1. SIGTERM to one rank (rank processes are mpirun's children): all stop together, rank 0 checkpoints.
"${two_ranks[@]}" "${train[@]}" --run-dir "$work/run" --set train.steps=100000 >"$work/term.log" 2>&1 &
launcher=$!
if wait_for_line "$work/term.log" "^step 2/"; then
  kill -TERM "$(pgrep -P $launcher | tail -n 1)"
else
  fail "training under mpirun did not reach step 2: $(cat "$work/term.log")"
fi
wait $launcher
status=$?
stopped=$(sed -n 's/.*stopped at step \([0-9]*\) by .*/\1/p' "$work/term.log" | head -n 1)
if [[ $status -eq 0 && -n $stopped && -f $work/run/checkpoints/ckpt-$(printf %08d "$stopped").h5 ]] &&
  grep -q "received SIGTERM: every rank stops after step $stopped" "$work/term.log" &&
  grep -q "to continue, run the same command with --resume auto" "$work/term.log"; then
  pass "SIGTERM on one rank: every rank stops at step $stopped with a checkpoint and exit status 0"
else
  fail "SIGTERM stop (exit $status): $(cat "$work/term.log")"
fi
if [[ -f $work/run/config.yaml && $(grep -c '"step"' "$work/run/metrics.jsonl") -eq ${stopped:-0} ]]; then
  pass "one writer: config.yaml and one metrics line per step"
else
  fail "metrics: $(cat "$work/run/metrics.jsonl")"
fi

# 2. Resume on one rank (no launcher) from the two-rank checkpoint.
next=$((stopped + 1))
"${train[@]}" --run-dir "$work/run" --resume auto --set train.steps=$next >"$work/one.log" 2>&1
if grep -q "resumed from .*ckpt-$(printf %08d "$stopped").h5 at step $stopped" "$work/one.log" &&
  grep -q "written by 2 rank(s); continuing on 1" "$work/one.log" &&
  [[ -f $work/run/checkpoints/ckpt-$(printf %08d $next).h5 ]]; then
  pass "a two-rank checkpoint resumes on one rank"
else
  fail "resume on one rank: $(cat "$work/one.log")"
fi

# 3. Back on two ranks; SIGUSR1 to mpirun, which forwards it to every rank.
"${two_ranks[@]}" "${train[@]}" --run-dir "$work/run" --resume auto --set train.steps=100000 >"$work/usr1.log" 2>&1 &
launcher=$!
if wait_for_line "$work/usr1.log" "^step $((next + 1))/"; then
  kill -USR1 $launcher
else
  fail "resumed training under mpirun did not make a step: $(cat "$work/usr1.log")"
fi
wait $launcher
status=$?
if [[ $status -eq 0 ]] && grep -q "resumed from .*ckpt-$(printf %08d $next).h5 at step $next" "$work/usr1.log" &&
  grep -q "stopped at step [0-9]* by SIGUSR1" "$work/usr1.log"; then
  pass "a one-rank checkpoint resumes on two ranks; SIGUSR1 through mpirun stops them cleanly"
else
  fail "SIGUSR1 stop (exit $status): $(cat "$work/usr1.log")"
fi

# 4. Bad starts: an error on every rank, a non-zero exit, no hang.
expect_errors_on_both_ranks() {
  local name=$1 pattern=$2
  shift 2
  local status=0
  timeout 120 "$@" >"$work/bad.log" 2>&1 || status=$?
  if [[ $status -ne 0 && $status -ne 124 ]] && grep -q "^error: \[rank 0\] .*$pattern" "$work/bad.log" &&
    grep -q "^error: \[rank 1\] .*$pattern" "$work/bad.log"; then
    pass "$name"
  else
    fail "$name (exit $status): $(cat "$work/bad.log")"
  fi
}
expect_errors_on_both_ranks "indivisible global batch fails on every rank" \
  "train.batch_size 5 is not divisible by 2 ranks x train.accumulation 1" \
  "${two_ranks[@]}" "${train[@]}" --run-dir "$work/bad-batch" --set train.batch_size=5
expect_errors_on_both_ranks "ranks with different configs fail on every rank" \
  "the ranks were started with different configurations: rank(s) 1 differ from rank 0" \
  "$mpirun" --oversubscribe -np 1 "${train[@]}" --run-dir "$work/mixed" --set train.lr=0.001 : \
  -np 1 "${train[@]}" --run-dir "$work/mixed" --set train.lr=0.002
# A run directory another process holds: rank 0 alone takes the lock, and both ranks end with its error.
mkdir -p "$work/held"
exec {held}>"$work/held/.lock"
flock -n $held
status=0
timeout 120 "${two_ranks[@]}" "${train[@]}" --run-dir "$work/held" >"$work/held.log" 2>&1 || status=$?
exec {held}>&-
if [[ $status -ne 0 && $status -ne 124 ]] &&
  [[ $(grep -c "^error: \[rank 0\] run directory $work/held is in use" "$work/held.log") -eq 2 ]]; then
  pass "a run directory in use fails on every rank"
else
  fail "a run directory in use (exit $status): $(cat "$work/held.log")"
fi

finish "mpirun CLI"
