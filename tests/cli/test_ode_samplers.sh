#!/usr/bin/env bash
# The ODE samplers from the command line, on a checkpoint of configs/tiny.yaml:
# `diffuse sample --sampler euler|heun|dpmpp_2m` writes its samples and says
# how many network evaluations (NFE) its steps took, `bench sample` reports
# the same NFE, a bad Karras grid in the config is one error naming the key,
# and sample.s_churn churns heun (at the same NFE) but not the other samplers.
# Usage: test_ode_samplers.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

prepare_fmnist_test_split "$diffuse" "$work/test.h5"
"$diffuse" train --config "$source_dir/configs/tiny.yaml" --run-dir "$work/run" --set "data.train=$work/test.h5" \
  --set train.steps=2 --set train.checkpoint_every=2 >/dev/null
checkpoint=$work/run/checkpoints/ckpt-00000002.h5

# Heun's last step is an Euler step: 4 steps cost 7 evaluations.
for sampler_nfe in euler:4 heun:7 dpmpp_2m:4; do
  sampler=${sampler_nfe%:*} nfe=${sampler_nfe#*:}
  if "$diffuse" sample --ckpt "$checkpoint" --sampler "$sampler" --steps 4 --n 4 --batch 4 \
    --out "$work/$sampler.h5" >"$work/$sampler.log" 2>&1 && [[ -s $work/$sampler.h5 ]] &&
    grep -q "wrote 4 samples ($sampler, 4 steps, NFE $nfe) to " "$work/$sampler.log"; then
    pass "sample --sampler $sampler --steps 4 (NFE $nfe)"
  else
    fail "sample --sampler $sampler: $(cat "$work/$sampler.log")"
  fi
done

"$diffuse" bench sample --config "$source_dir/configs/tiny.yaml" --sampler heun --steps 3 --batch 2 \
  >"$work/bench.log" 2>&1 || true
grep -q "heun 3 steps (NFE 5)" "$work/bench.log" && grep -q '"sampler": "heun", "steps": 3, "nfe": 5' "$work/bench.log" &&
  pass "bench sample reports heun's NFE" || fail "bench sample NFE: $(cat "$work/bench.log")"

status=0
"$diffuse" train --config "$source_dir/configs/tiny.yaml" --run-dir "$work/bad" --set "data.train=$work/test.h5" \
  --set sample.sigma_min=2 --set sample.sigma_max=1 >"$work/bad.log" 2>&1 || status=$?
if [[ $status -ne 0 && $(wc -l <"$work/bad.log") -eq 1 ]] &&
  grep -q "^error: config key 'sample.sigma_min' .*: must be below sample.sigma_max (2 >= 1)$" "$work/bad.log"; then
  pass "a Karras grid with sigma_min above sigma_max is one error naming the key"
else
  fail "bad sigma_min (exit $status): $(cat "$work/bad.log")"
fi

# The same training with churn in its sample section: the same weights, so ddim draws the same images from both
# checkpoints while heun's differ.
"$diffuse" train --config "$source_dir/configs/tiny.yaml" --run-dir "$work/churn" --set "data.train=$work/test.h5" \
  --set train.steps=2 --set train.checkpoint_every=2 --set sample.sampler=heun --set sample.s_churn=40 >/dev/null
churned=$work/churn/checkpoints/ckpt-00000002.h5
for sampler in heun ddim; do
  for run in plain churned; do
    from=$checkpoint
    [[ $run == churned ]] && from=$churned
    "$diffuse" sample --ckpt "$from" --sampler "$sampler" --steps 4 --n 4 --batch 2 --out "$work/$run-$sampler.png" \
      >"$work/$run-$sampler.log" 2>&1 || fail "sample --sampler $sampler from the $run run: $(cat "$work/$run-$sampler.log")"
  done
done
if grep -q "(heun, 4 steps, NFE 7)" "$work/churned-heun.log" && [[ -s $work/churned-heun.png ]] &&
  ! cmp -s "$work/plain-heun.png" "$work/churned-heun.png" && cmp -s "$work/plain-ddim.png" "$work/churned-ddim.png"; then
  pass "sample.s_churn churns heun at the same NFE and leaves ddim alone"
else
  fail "churn: $(cat "$work/churned-heun.log")"
fi

status=0
"$diffuse" train --config "$source_dir/configs/tiny.yaml" --run-dir "$work/bad-churn" --set "data.train=$work/test.h5" \
  --set sample.sampler=dpmpp_2m --set sample.s_churn=10 >"$work/bad-churn.log" 2>&1 || status=$?
if [[ $status -ne 0 && $(wc -l <"$work/bad-churn.log") -eq 1 ]] &&
  grep -q "^error: config key 'sample.s_churn' .*: applies to sample.sampler euler and heun only, not to dpmpp_2m" \
    "$work/bad-churn.log"; then
  pass "churn with dpmpp_2m is one error naming the key and the sampler"
else
  fail "churn with dpmpp_2m (exit $status): $(cat "$work/bad-churn.log")"
fi

finish "ODE sampler"
