#!/usr/bin/env bash
# Writing on a full disk: a file-size limit (ulimit -f, with SIGXFSZ ignored)
# makes writes past it fail with EFBIG, as a full disk makes them fail with
# ENOSPC. Training, sampling to a PNG grid and to an HDF5 sample set then end
# with exit status 1 and one error line naming the file and the reason; no
# temporary file is left, and the files written before stay as they were.
# Usage: test_full_disk.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

# with_file_size_limit KIB COMMAND...: runs the command with no file growing past KIB KiB.
with_file_size_limit() {
  local kib=$1
  shift
  (
    trap '' XFSZ
    ulimit -f "$kib"
    exec "$@"
  )
}

# expect_write_error NAME KIB FILE DIRECTORY COMMAND...: under a KIB KiB limit the command exits with status 1
# and one "error:" line naming FILE and "File too large", and leaves no *.tmp in DIRECTORY.
expect_write_error() {
  local name=$1 kib=$2 file=$3 directory=$4
  shift 4
  local status=0
  with_file_size_limit "$kib" "$@" >"$work/out" 2>"$work/err" || status=$?
  local errors temporaries
  errors=$(grep -c '^error: ' "$work/err" || true)
  temporaries=$(find "$directory" -name '*.tmp')
  if [[ $status -eq 1 && $errors -eq 1 ]] && grep -q "^error: .*$file.*File too large" "$work/err" &&
    [[ -z $temporaries ]]; then
    pass "$name"
  else
    fail "$name (exit $status, temporaries: ${temporaries:-none}): $(cat "$work/err")"
  fi
}

prepare_fmnist_test_split "$diffuse" "$work/test.h5" && pass "prepare idx"

config="$source_dir/configs/tiny.yaml"
common=(--config "$config" --set "data.train=$work/test.h5" --set train.checkpoint_every=2 --run-dir "$work/run")
"$diffuse" train "${common[@]}" --set train.steps=2 >/dev/null 2>&1
first="$work/run/checkpoints/ckpt-00000002.h5"
first_sum=$(sha256sum <"$first")
# Half a checkpoint: the next one cannot be written, while logs and metrics still can.
half_checkpoint_kib=$(($(stat -c %s "$first") / 2048))

expect_write_error "train: a checkpoint that does not fit" "$half_checkpoint_kib" "ckpt-00000004.h5" "$work/run" \
  "$diffuse" train "${common[@]}" --set train.steps=4 --resume auto
[[ $(ls "$work/run/checkpoints") == ckpt-00000002.h5 && $(sha256sum <"$first") == "$first_sum" ]] &&
  pass "the earlier checkpoint stays as it was" || fail "checkpoints: $(ls -l "$work/run/checkpoints")"
"$diffuse" train "${common[@]}" --set train.steps=4 --resume auto >"$work/resume.log" 2>&1 &&
  grep -q "resumed from .*ckpt-00000002.h5 at step 2" "$work/resume.log" &&
  pass "training resumes from the earlier checkpoint" || fail "resume: $(cat "$work/resume.log")"

mkdir "$work/samples"
expect_write_error "sample: a PNG grid that does not fit" 1 "grid.png" "$work/samples" \
  "$diffuse" sample --ckpt "$first" --steps 2 --n 16 --out "$work/samples/grid.png"
expect_write_error "sample: an HDF5 sample set that does not fit" 1 "samples.h5" "$work/samples" \
  "$diffuse" sample --ckpt "$first" --steps 2 --n 16 --out "$work/samples/samples.h5"
[[ -z $(ls "$work/samples") ]] && pass "failed samples leave nothing" || fail "samples: $(ls "$work/samples")"

finish "full disk"
