#!/usr/bin/env bash
# `bench train` on the CPU measures the fp32 GEMM yardstick and, where the CPU
# multiplies bf16 natively, the bf16 one beside it (else it says it is absent),
# and divides by the yardstick of the type the run computes in, naming it on
# its ratio line and as "ratio_yardstick" in its JSON.
# Usage: test_bench_yardsticks.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

# No GPU visible: the bench runs on the CPU backend even where there is one.
for precision in fp32 bf16; do
  CUDA_VISIBLE_DEVICES='' "$diffuse" bench train --config "$source_dir/configs/tiny.yaml" --steps 1 --warmup 0 \
    --set "train.precision=$precision" >"$work/$precision.log" 2>&1 || true
done

if grep -q "^  GEMM peak    fp32 [0-9.]* GFLOP/s, bf16 absent (this CPU has no AVX512-BF16 or AMX)" "$work/fp32.log"; then
  bf16_json='"bf16_gemm_gflops": 0(\.0)?,' bf16_used=fp32
  pass "bench train says the bf16 yardstick is absent on this CPU"
elif grep -q "^  GEMM peak    fp32 [0-9.]* GFLOP/s, bf16 [0-9.]* GFLOP/s " "$work/fp32.log"; then
  bf16_json='"bf16_gemm_gflops": [0-9.]*[1-9][0-9.]*,' bf16_used=bf16
  pass "bench train prints the fp32 and bf16 yardsticks"
else
  fail "bench train yardsticks: $(cat "$work/fp32.log")"
fi

# precision:yardstick the ratio divides by
for case in fp32:fp32 "bf16:${bf16_used:-}"; do
  precision=${case%:*} used=${case#*:}
  if grep -q "^  ratio        [0-9.]* of the $used GEMM peak " "$work/$precision.log" &&
    grep -Eq "\"gemm_gflops\": [0-9.]*[1-9][0-9.]*, $bf16_json \"ratio_yardstick\": \"${used}_gemm\"" \
      "$work/$precision.log"; then
    pass "train.precision $precision: ratio to the $used yardstick"
  else
    fail "train.precision $precision ratio: $(cat "$work/$precision.log")"
  fi
done

finish "bench yardstick"
