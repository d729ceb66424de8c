#!/usr/bin/env bash
# A rank that stalls or leaves early must not hang the job: the ranks still
# waiting in the collective end with the watchdog's message naming the
# operation and the missing rank, and the job ends with a non-zero status
# well before the test's time limit.
# Usage: test_timeout.sh MPIRUN collective_stall stall|exit RANKS
set -uo pipefail
mpirun=$1
driver=$2
mode=$3
ranks=$4
log=$(mktemp)
trap 'rm -f "$log"' EXIT

start=$SECONDS
timeout 100 "$mpirun" -np "$ranks" --oversubscribe "$driver" "$mode" 2 >"$log" 2>&1
status=$?
elapsed=$((SECONDS - start))
cat "$log"
failures=0
if [[ $status -eq 0 || $status -eq 124 ]]; then
  echo "FAIL: the job should end with an error, not exit status $status (124 = hung until killed)"
  failures=1
fi
if ((elapsed > 60)); then
  echo "FAIL: the job took ${elapsed} s to end"
  failures=1
fi
expected="collective #1 (all_reduce of 1000 floats) did not complete within runtime.collective_timeout_s = 2 s: rank 1 did not arrive"
for ((rank = 0; rank < ranks; ++rank)); do
  [[ $rank -eq 1 ]] && continue
  if grep -qF "error: [rank $rank] $expected" "$log"; then
    echo "PASS: rank $rank reports the missing rank"
  else
    echo "FAIL: rank $rank did not report: $expected"
    failures=1
  fi
done
((failures == 0)) && echo "the job ended after ${elapsed} s with the timeout message"
exit $failures
