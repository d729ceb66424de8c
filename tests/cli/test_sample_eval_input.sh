#!/usr/bin/env bash
# `diffuse sample` and `diffuse eval` on a checkpoint of configs/tiny.yaml:
# bad flag values fail before any work with one "error:" line naming the flag
# and write nothing, outputs that cannot be written fail before sampling,
# `eval --images --n` evaluates the first n images, eval samples as the
# checkpoint's sample section says unless flags are given, and long runs print
# progress lines with an ETA.
# Usage: test_sample_eval_input.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

# expect_flag_error NAME PATTERN COMMAND...: the command fails with exactly one line on stderr, an "error:" line
# matching PATTERN, prints nothing on stdout (no progress: it stopped before sampling) and writes nothing to $work/out.*.
expect_flag_error() {
  local name=$1 pattern=$2
  shift 2
  local status=0
  "$@" >"$work/stdout" 2>"$work/stderr" || status=$?
  if [[ $status -ne 0 ]] && grep -v "^sampling on " "$work/stderr" | grep -q "^error: .*$pattern" &&
    [[ $(grep -vc "^sampling on " "$work/stderr") -eq 1 && ! -s $work/stdout ]] && ! ls "$work"/out.* >/dev/null 2>&1; then
    pass "$name"
  else
    fail "$name (exit $status): $(cat "$work/stdout" "$work/stderr"; ls "$work"/out.* 2>/dev/null)"
  fi
  rm -f "$work"/out.*  # each check starts without outputs
}

prepare_fmnist_test_split "$diffuse" "$work/test.h5"
"$diffuse" train --config "$source_dir/configs/tiny.yaml" --run-dir "$work/run" --set "data.train=$work/test.h5" \
  --set train.steps=2 --set train.checkpoint_every=2 --set sample.sampler=euler --set sample.guidance=0.5 >/dev/null
checkpoint=$work/run/checkpoints/ckpt-00000002.h5

"$diffuse" sample --ckpt "$checkpoint" --steps 2 --n 24 --batch 8 --out "$work/samples.h5" >"$work/sample.log" 2>/dev/null
grep -q "^sampling 24/24 images  .* img/s  ETA " "$work/sample.log" && pass "sample prints progress with an ETA" ||
  fail "sample progress: $(cat "$work/sample.log")"
"$diffuse" train-classifier --data "$work/test.h5" --test "$work/test.h5" --out "$work/features.h5" --max-steps 3 \
  --channels 8,8 --feature-dim 8 >/dev/null

sample=("$diffuse" sample --ckpt "$checkpoint")
expect_flag_error "sample --steps 0" "--steps: 0 is less than 1" "${sample[@]}" --out "$work/out.png" --steps 0
expect_flag_error "sample --steps -3" "--steps: -3 is less than 1" "${sample[@]}" --out "$work/out.png" --steps -3
expect_flag_error "sample --class -1" "--class -1 is not a class of the model: its classes are 0 to 9" \
  "${sample[@]}" --out "$work/out.png" --class -1
expect_flag_error "sample --class 10" "--class 10 is not a class of the model: its classes are 0 to 9" \
  "${sample[@]}" --out "$work/out.png" --class 10
expect_flag_error "sample --guidance nan" "--guidance: nan is not a finite number" \
  "${sample[@]}" --out "$work/out.png" --guidance nan
expect_flag_error "sample --eta inf" "--eta: inf is not a finite number" "${sample[@]}" --out "$work/out.png" --eta inf
expect_flag_error "sample --n 0" "--n: 0 is less than 1" "${sample[@]}" --out "$work/out.png" --n 0
expect_flag_error "sample --out into a missing directory" "--out $work/missing/out.png: directory $work/missing does not exist" \
  "${sample[@]}" --out "$work/missing/out.png"
expect_flag_error "sample --out of another kind" "--out $work/out.jpg: the file must end in .png or .h5" \
  "${sample[@]}" --out "$work/out.jpg"

# The reference is the sample file itself: small enough to featurize in a moment.
evaluate=("$diffuse" eval --ref "$work/samples.h5" --features "$work/features.h5" --kid-subsets 4)
expect_flag_error "eval --steps 0" "--steps: 0 is less than 1" "${evaluate[@]}" --ckpt "$checkpoint" --n 12 \
  --steps 0 --out "$work/out.json"
expect_flag_error "eval --guidance inf" "--guidance: inf is not a finite number" "${evaluate[@]}" --ckpt "$checkpoint" \
  --n 12 --guidance inf --out "$work/out.json"
expect_flag_error "eval --eta nan" "--eta: nan is not a finite number" "${evaluate[@]}" --ckpt "$checkpoint" --n 12 \
  --eta nan --out "$work/out.json"
expect_flag_error "eval --out into a missing directory" "--out $work/missing/out.json: directory $work/missing" \
  "${evaluate[@]}" --ckpt "$checkpoint" --n 12 --steps 2 --out "$work/missing/out.json"
expect_flag_error "eval --save-samples into a missing directory" "--save-samples $work/missing/out.h5: directory" \
  "${evaluate[@]}" --ckpt "$checkpoint" --n 12 --steps 2 --out "$work/out.json" --save-samples "$work/missing/out.h5"
expect_flag_error "eval --images --n beyond the file" "--n 100 but --images $work/samples.h5 has only 24 images" \
  "${evaluate[@]}" --images "$work/samples.h5" --n 100 --out "$work/out.json"
expect_flag_error "eval --images --save-samples" "--save-samples needs --ckpt" \
  "${evaluate[@]}" --images "$work/samples.h5" --save-samples "$work/out.h5" --out "$work/out.json"
expect_flag_error "train-classifier --lr nan" "--lr: nan is not a finite number" \
  "$diffuse" train-classifier --data "$work/test.h5" --test "$work/test.h5" --out "$work/out.h5" --lr nan

"${evaluate[@]}" --images "$work/samples.h5" --n 12 --out "$work/images.json" >"$work/images.log" 2>/dev/null
grep -q '"n": 12,' "$work/images.json" && grep -q "(n 12)" "$work/images.log" && pass "eval --images --n 12 evaluates 12" ||
  fail "eval --images --n: $(cat "$work/images.log" "$work/images.json")"
grep -q "^features 12/12 images  .* ETA " "$work/images.log" && pass "eval prints feature progress" ||
  fail "eval feature progress: $(cat "$work/images.log")"
"${evaluate[@]}" --ckpt "$checkpoint" --steps 2 --n 12 --out "$work/checkpoint.json" >"$work/checkpoint.log" 2>/dev/null
grep -q "^sampling 12/12 images  .* ETA " "$work/checkpoint.log" && pass "eval prints sampling progress" ||
  fail "eval sampling progress: $(cat "$work/checkpoint.log")"
grep -q '"sampler": "euler",' "$work/checkpoint.json" && grep -q '"guidance": 0.5,' "$work/checkpoint.json" &&
  pass "eval samples as the checkpoint's sample section says" || fail "eval sampler: $(cat "$work/checkpoint.json")"
"${evaluate[@]}" --ckpt "$checkpoint" --sampler ddim --steps 2 --guidance 0 --n 12 --out "$work/flags.json" >/dev/null 2>&1
grep -q '"sampler": "ddim",' "$work/flags.json" && grep -q '"guidance": 0.0,' "$work/flags.json" &&
  pass "eval's flags win over the sample section" || fail "eval flags: $(cat "$work/flags.json")"

finish "sample and eval input"
