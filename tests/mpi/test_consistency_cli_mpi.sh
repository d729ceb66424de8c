#!/usr/bin/env bash
# Consistency distillation and consistency training from the command line under mpirun: each runs on two ranks,
# resumes on one rank from the two-rank checkpoint, and its model samples with the consistency sampler.
# Usage: test_consistency_cli_mpi.sh MPIRUN path/to/diffuse path/to/source-dir
set -uo pipefail
mpirun=$1
diffuse=$2
source_dir=$3
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

prepare_fmnist_test_split "$diffuse" "$work/test.h5" || fail "prepare idx"

# Half the width of tiny.yaml: two ranks may share two cores with other tests.
common=(--config "$source_dir/configs/tiny.yaml" --set "data.train=$work/test.h5" --set model.channels=16
  --set train.batch_size=4 --set train.checkpoint_every=2)
two_ranks=("$mpirun" -np 2 --oversubscribe)

"$diffuse" train "${common[@]}" --run-dir "$work/teacher" --set train.steps=2 >"$work/teacher.log" 2>&1 ||
  fail "teacher: $(cat "$work/teacher.log")"

# run_and_resume NAME COMMAND...: COMMAND on two ranks for 2 steps, then resumed on one rank to 4; the model samples.
run_and_resume() {
  local name=$1 steps_key=$2
  shift 2
  "${two_ranks[@]}" "$@" --run-dir "$work/$name" --set "$steps_key=2" >"$work/$name-2.log" 2>&1 &&
    "$@" --run-dir "$work/$name" --set "$steps_key=4" --resume auto >"$work/$name-1.log" 2>&1 &&
    grep -q "written by 2 rank(s); continuing on 1" "$work/$name-1.log" &&
    "$diffuse" sample --ckpt "$work/$name/checkpoints/ckpt-00000004.h5" --n 4 --out "$work/$name.png" \
      >"$work/$name-sample.log" 2>&1 && grep -q "(consistency, 1 steps, NFE 1)" "$work/$name-sample.log" &&
    pass "$name on two ranks, resumed on one, sampled in one step" ||
    fail "$name: $(cat "$work/$name-2.log" "$work/$name-1.log" "$work/$name-sample.log" 2>/dev/null)"
}
run_and_resume distill distill.steps_per_stage "$diffuse" distill "${common[@]}" --method consistency \
  --teacher "$work/teacher/checkpoints/ckpt-00000002.h5" --set consistency.levels=6
run_and_resume ict train.steps "$diffuse" train "${common[@]}" --set diffusion.formulation=consistency \
  --set diffusion.prediction=eps --set diffusion.loss_weight=simple --set consistency.s0=2 --set consistency.s1=4 \
  --set sample.sampler=consistency --set sample.steps=1

finish "consistency mpirun CLI"
