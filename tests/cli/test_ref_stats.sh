#!/usr/bin/env bash
# `diffuse eval --ref-stats`: FID against published statistics (an .npz of mu
# and sigma) equals FID against the reference set they were computed from
# (--ref); the report names the file and its SHA-256 and leaves out KID and
# precision/recall; bad statistics files and flag combinations fail before any
# work with one "error:" line and write nothing.
# Usage: test_ref_stats.sh path/to/diffuse path/to/source-dir path/to/stats_to_npz
set -euo pipefail
diffuse=$1
source_dir=$2
stats_to_npz=$3
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

# expect_error NAME PATTERN COMMAND...: the command fails with exactly one line on stderr, an "error:" line
# matching PATTERN, prints nothing on stdout and writes no report.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  local status=0
  "$@" >"$work/stdout" 2>"$work/stderr" || status=$?
  if [[ $status -ne 0 && $(wc -l <"$work/stderr") -eq 1 && ! -s $work/stdout && ! -e $work/out.json ]] &&
    grep -q "^error: .*$pattern" "$work/stderr"; then
    pass "$name"
  else
    fail "$name (exit $status): $(cat "$work/stdout" "$work/stderr")"
  fi
}

# json_number FILE KEY: the number KEY holds in the report FILE.
json_number() { grep -o "\"$2\": [^,}]*" "$1" | head -1 | cut -d' ' -f2; }

prepare_fmnist_test_split "$diffuse" "$work/test.h5"
"$diffuse" train --config "$source_dir/configs/tiny.yaml" --run-dir "$work/run" --set "data.train=$work/test.h5" \
  --set train.steps=2 --set train.checkpoint_every=2 >/dev/null
"$diffuse" sample --ckpt "$work/run/checkpoints/ckpt-00000002.h5" --steps 2 --n 24 --out "$work/reference.h5" \
  >/dev/null 2>&1
"$diffuse" train-classifier --data "$work/test.h5" --test "$work/test.h5" --out "$work/features.h5" --max-steps 3 \
  --channels 8,8 --feature-dim 8 >/dev/null

# The real test images are scored against the samples: once against the samples themselves, which caches their
# statistics beside them, and once against those statistics written as an .npz.
evaluate=("$diffuse" eval --images "$work/test.h5" --n 40 --features "$work/features.h5" --kid-subsets 4 \
  --kid-subset-size 10)
"${evaluate[@]}" --ref "$work/reference.h5" --out "$work/ref.json" >/dev/null 2>&1
"$stats_to_npz" "$work"/reference.h5.*.stats.h5 "$work/stats.npz"
"${evaluate[@]}" --ref-stats "$work/stats.npz" --out "$work/ref_stats.json" >"$work/ref_stats.log" 2>&1

fid=$(json_number "$work/ref.json" fid)
fid_from_stats=$(json_number "$work/ref_stats.json" fid)
if awk -v a="$fid" -v b="$fid_from_stats" 'BEGIN { d = a - b; exit !(a > 0 && d * d <= (1e-6 * a) ^ 2) }'; then
  pass "--ref-stats gives the FID of --ref ($fid)"
else
  fail "--ref-stats FID $fid_from_stats, --ref FID $fid"
fi
sha256=$(sha256sum "$work/stats.npz" | cut -d' ' -f1)
grep -q "\"reference_stats\": \"$work/stats.npz\"" "$work/ref_stats.json" &&
  grep -q "\"reference_stats_sha256\": \"$sha256\"" "$work/ref_stats.json" &&
  pass "the report names the statistics file and its SHA-256" || fail "report: $(cat "$work/ref_stats.json")"
! grep -q '"kid_mean"\|"precision"\|"reference_n"' "$work/ref_stats.json" && grep -q '"kid_mean"' "$work/ref.json" &&
  pass "the report leaves out KID and precision/recall" || fail "report: $(cat "$work/ref_stats.json")"
[[ $(grep -c "KID and precision/recall need the reference features" "$work/ref_stats.log") -eq 1 ]] &&
  grep -q "^fid [0-9.]*  class accuracy [0-9.]*  (n 40)$" "$work/ref_stats.log" &&
  pass "the output says in one line that KID and precision/recall are left out" ||
  fail "output: $(cat "$work/ref_stats.log")"

rm -f "$work/out.json"
expect_error "--ref and --ref-stats together" "give exactly one of --ref .* and --ref-stats" \
  "${evaluate[@]}" --ref "$work/reference.h5" --ref-stats "$work/stats.npz" --out "$work/out.json"
expect_error "neither --ref nor --ref-stats" "give exactly one of --ref .* and --ref-stats" \
  "${evaluate[@]}" --out "$work/out.json"
expect_error "--ref-stats of another width" \
  "npz $source_dir/tests/reference/ref_stats/stats.npz: the statistics are 4-d but the feature network $work/features.h5 gives 8-d" \
  "${evaluate[@]}" --ref-stats "$source_dir/tests/reference/ref_stats/stats.npz" --out "$work/out.json"
head -c 200 "$work/stats.npz" >"$work/truncated.npz"
expect_error "truncated --ref-stats" "npz $work/truncated.npz: cannot open it as a zip archive" \
  "${evaluate[@]}" --ref-stats "$work/truncated.npz" --out "$work/out.json"
expect_error "--ref-stats without mu" "npz $source_dir/tests/reference/ref_stats/no_mu.npz: there is no array 'mu'" \
  "${evaluate[@]}" --ref-stats "$source_dir/tests/reference/ref_stats/no_mu.npz" --out "$work/out.json"

finish "--ref-stats"
