#!/usr/bin/env bash
# The EDM formulation from the command line: train configs/tiny.yaml with
# diffusion.formulation edm, resume it, sample with heun on EDM's default grid
# (0.002..80), distil one stage, and refuse a VP key set with edm.
# Usage: test_edm.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

prepare_fmnist_test_split "$diffuse" "$work/test.h5"
config="$source_dir/configs/tiny.yaml"
# tiny.yaml predicts v with snr_plus_one weights: EDM needs those keys back at their defaults.
edm=(--set diffusion.formulation=edm --set diffusion.prediction=eps --set diffusion.loss_weight=simple)
common=(--config "$config" --set "data.train=$work/test.h5" --set train.checkpoint_every=2 "${edm[@]}")

"$diffuse" train "${common[@]}" --run-dir "$work/run" --set train.steps=2 >"$work/train.log" 2>&1 &&
  grep -q 'formulation: "edm"' "$work/run/config.yaml" && pass "train with formulation edm records it" ||
  fail "edm train: $(cat "$work/train.log")"

"$diffuse" train "${common[@]}" --run-dir "$work/run" --set train.steps=4 --resume auto >"$work/resume.log" 2>&1 &&
  grep -q "resumed from .*ckpt-00000002.h5 at step 2" "$work/resume.log" &&
  [[ -f $work/run/checkpoints/ckpt-00000004.h5 ]] && pass "edm run resumes" || fail "edm resume: $(cat "$work/resume.log")"
checkpoint=$work/run/checkpoints/ckpt-00000004.h5

if "$diffuse" sample --ckpt "$checkpoint" --sampler heun --steps 4 --n 4 --batch 4 --out "$work/heun.h5" \
  >"$work/heun.log" 2>&1 && [[ -s $work/heun.h5 ]] && grep -q "wrote 4 samples (heun, 4 steps, NFE 7) to " "$work/heun.log"; then
  pass "sample --sampler heun from an edm checkpoint"
else
  fail "edm heun: $(cat "$work/heun.log")"
fi

# One distillation stage 4 -> 2 steps from the EDM teacher; the student is EDM too and samples in 2 steps.
student=$work/distill/stage-1-2steps/checkpoints/ckpt-00000002.h5
"$diffuse" distill --config "$config" --set "data.train=$work/test.h5" --teacher "$checkpoint" \
  --run-dir "$work/distill" --from 4 --to 2 --set distill.steps_per_stage=2 >"$work/distill.log" 2>&1 &&
  "$diffuse" sample --ckpt "$student" --n 4 --out "$work/student.png" >"$work/student.log" 2>&1 &&
  grep -q "(ddim, 2 steps, NFE 2)" "$work/student.log" && grep -q 'formulation: "edm"' "$work/distill/stage-1-2steps/config.yaml" &&
  pass "distill an edm teacher one stage; the student samples in 2 steps" ||
  fail "edm distill: $(cat "$work/distill.log" "$work/student.log" 2>/dev/null)"

status=0
"$diffuse" train --config "$config" --run-dir "$work/bad" --set "data.train=$work/test.h5" \
  --set diffusion.formulation=edm >"$work/bad.log" 2>&1 || status=$?
if [[ $status -ne 0 && $(wc -l <"$work/bad.log") -eq 1 && ! -e $work/bad ]] &&
  grep -q "^error: config key 'diffusion.prediction' .*: does not apply to diffusion.formulation edm" "$work/bad.log"; then
  pass "a VP key set with edm is one error naming the key"
else
  fail "vp key with edm (exit $status): $(cat "$work/bad.log")"
fi

finish "EDM"
