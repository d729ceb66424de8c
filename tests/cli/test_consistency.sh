#!/usr/bin/env bash
# Consistency models from the command line: a tiny teacher (configs/tiny.yaml), `distill --method
# consistency`, resumed; the student samples in one step by default and in two with --steps 2; consistency
# training (`train` with diffusion.formulation consistency), resumed, sampled with the consistency sampler by
# default; and the bad inputs (a target EMA outside [0, 1), a consistency model as teacher, --steps beyond the
# model's grid) are one error line naming the value, with nothing written.
# Usage: test_consistency.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

prepare_fmnist_test_split "$diffuse" "$work/test.h5"
config="$source_dir/configs/tiny.yaml"
common=(--config "$config" --set "data.train=$work/test.h5" --set train.checkpoint_every=2)

"$diffuse" train "${common[@]}" --run-dir "$work/teacher" --set train.steps=2 >"$work/teacher.log" 2>&1 ||
  fail "teacher: $(cat "$work/teacher.log")"
teacher=$work/teacher/checkpoints/ckpt-00000002.h5

distill=(distill "${common[@]}" --teacher "$teacher" --method consistency --set consistency.levels=6)
"$diffuse" "${distill[@]}" --run-dir "$work/cd" --set distill.steps_per_stage=2 >"$work/cd.log" 2>&1 &&
  "$diffuse" "${distill[@]}" --run-dir "$work/cd" --set distill.steps_per_stage=4 --resume auto >"$work/resume.log" 2>&1 &&
  grep -q "resumed from .*ckpt-00000002.h5 at step 2" "$work/resume.log" &&
  [[ -f $work/cd/checkpoints/ckpt-00000004.h5 ]] && grep -q 'method: "consistency"' "$work/cd/config.yaml" &&
  pass "distill --method consistency runs and resumes" || fail "consistency distill: $(cat "$work/cd.log" "$work/resume.log")"
student=$work/cd/checkpoints/ckpt-00000004.h5

"$diffuse" sample --ckpt "$student" --n 4 --batch 4 --out "$work/one.h5" >"$work/one.log" 2>&1 &&
  grep -q "wrote 4 samples (consistency, 1 steps, NFE 1) to " "$work/one.log" &&
  pass "the student samples with the consistency sampler in one step by default" ||
  fail "one-step sample: $(cat "$work/one.log")"
"$diffuse" sample --ckpt "$student" --n 4 --batch 4 --steps 2 --out "$work/two.h5" >"$work/two.log" 2>&1 &&
  grep -q "wrote 4 samples (consistency, 2 steps, NFE 2) to " "$work/two.log" &&
  pass "the student samples in two steps with --steps 2" || fail "two-step sample: $(cat "$work/two.log")"

# Consistency training: tiny.yaml's v and snr_plus_one keys back at their defaults, as for edm.
ict=(--set diffusion.formulation=consistency --set diffusion.prediction=eps --set diffusion.loss_weight=simple
  --set consistency.s0=2 --set consistency.s1=8 --set sample.sampler=consistency --set sample.steps=1)
"$diffuse" train "${common[@]}" "${ict[@]}" --run-dir "$work/ict" --set train.steps=2 >"$work/ict.log" 2>&1 &&
  "$diffuse" train "${common[@]}" "${ict[@]}" --run-dir "$work/ict" --set train.steps=4 --resume auto \
    >"$work/ict-resume.log" 2>&1 && grep -q "resumed from .*ckpt-00000002.h5 at step 2" "$work/ict-resume.log" &&
  grep -q 'formulation: "consistency"' "$work/ict/config.yaml" &&
  pass "train with diffusion.formulation consistency runs and resumes" ||
  fail "consistency training: $(cat "$work/ict.log" "$work/ict-resume.log")"
ict_model=$work/ict/checkpoints/ckpt-00000004.h5
"$diffuse" sample --ckpt "$ict_model" --n 4 --batch 4 --steps 2 --out "$work/ict.h5" >"$work/ict-sample.log" 2>&1 &&
  grep -q "wrote 4 samples (consistency, 2 steps, NFE 2) to " "$work/ict-sample.log" &&
  pass "a consistency-trained model samples with the consistency sampler by default" ||
  fail "consistency-trained sample: $(cat "$work/ict-sample.log")"

# one_error NAME PATTERN PATH COMMAND...: COMMAND fails with one error line, matching PATTERN, and PATH is not
# created (sample logs its device first).
one_error() {
  local name=$1 pattern=$2 path=$3 status=0
  shift 3
  "$@" >"$work/$name.log" 2>&1 || status=$?
  if [[ $status -ne 0 && $(grep -vc "^sampling on " "$work/$name.log") -eq 1 && ! -e $path ]] &&
    grep -q "$pattern" "$work/$name.log"; then
    pass "$name: one error naming the value"
  else
    fail "$name (exit $status): $(cat "$work/$name.log")"
  fi
}
one_error "target EMA 1" "^error: config key 'consistency.target_ema' .*must be in \[0, 1), got 1$" "$work/mu" \
  "$diffuse" "${distill[@]}" --run-dir "$work/mu" --set consistency.target_ema=1
one_error "target EMA -0.5" "consistency.target_ema.*got -0.5" "$work/mu" \
  "$diffuse" "${distill[@]}" --run-dir "$work/mu" --set consistency.target_ema=-0.5
one_error "consistency student as teacher" "^error: teacher .* is a consistency student" "$work/student-teacher" \
  "$diffuse" distill "${common[@]}" --teacher "$student" --method consistency --run-dir "$work/student-teacher"
one_error "consistency-trained teacher" "^error: teacher .* has diffusion.formulation consistency, which has no ODE" \
  "$work/ict-teacher" "$diffuse" distill "${common[@]}" --teacher "$ict_model" --method consistency \
  --run-dir "$work/ict-teacher"
one_error "consistency-trained teacher, progressive" "^error: teacher .* has diffusion.formulation consistency" \
  "$work/ict-progressive" "$diffuse" distill "${common[@]}" --teacher "$ict_model" --run-dir "$work/ict-progressive" \
  --from 8 --to 4
one_error "steps beyond the grid" "^error: --steps 6 is more than the consistency model's grid of 6 levels" \
  "$work/six.h5" "$diffuse" sample --ckpt "$student" --n 4 --steps 6 --out "$work/six.h5"

finish "consistency"
