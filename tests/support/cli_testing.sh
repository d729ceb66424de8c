# Shared by the shell tests that drive the diffuse binary (sourced, not run).
# Gives: $work (a temporary folder removed on exit), $fmnist (the Debian
# package's IDX files), pass/fail, prepare_fmnist_test_split, wait_for_line
# and finish.

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fmnist=/usr/share/datasets/fashion-mnist
failures=0

pass() { echo "PASS: $1"; }
fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
}

# prepare_fmnist_test_split DIFFUSE OUT: the 10000 test images as a dataset file.
prepare_fmnist_test_split() {
  "$1" prepare idx --images "$fmnist/t10k-images-idx3-ubyte.gz" --labels "$fmnist/t10k-labels-idx1-ubyte.gz" \
    --out "$2" >/dev/null
}

# wait_for_line FILE PATTERN: until FILE has a line matching PATTERN (at most 120 s).
wait_for_line() {
  for _ in $(seq 1200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# finish WHAT: the summary line, and exit status 1 if any check failed.
finish() {
  if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all $1 checks passed"
}
