#!/usr/bin/env bash
# Config input a person can plausibly get wrong: a directory, an empty or a
# comment-only file as --config, --set values that would exhaust memory or
# crash, and fp16 where there are no fp16 products. Each fails with one
# readable error line naming the file or key and a non-zero exit, before a run
# directory is made.
# Usage: test_config_input.sh path/to/diffuse path/to/source-dir
set -euo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

# expect_config_error NAME PATTERN CONFIG [ARGS...]: `diffuse train` fails with exactly one stderr line, an "error:"
# line holding PATTERN, and leaves no run directory.
expect_config_error() {
  local name=$1 pattern=$2 config=$3
  shift 3
  local status=0 run_dir="$work/run-$RANDOM"
  "$diffuse" train --config "$config" --run-dir "$run_dir" "$@" >"$work/out" 2>"$work/err" || status=$?
  if [[ $status -ne 0 && $(wc -l <"$work/err") -eq 1 && ! -e $run_dir ]] && grep -q "^error: .*$pattern" "$work/err"
  then
    pass "$name"
  else
    fail "$name (exit $status, run directory $([[ -e $run_dir ]] && echo made || echo absent)): $(cat "$work/err")"
  fi
}

config="$source_dir/configs/tiny.yaml"
mkdir "$work/configs"
expect_config_error "directory as --config" "config file $work/configs is a directory" "$work/configs"
: >"$work/empty.yaml"
expect_config_error "empty config file" "config file $work/empty.yaml has no settings" "$work/empty.yaml"
printf '# data:\n#   train: datasets/fashion-mnist/train.h5\n\n' >"$work/comments.yaml"
expect_config_error "comment-only config file" "config file $work/comments.yaml has no settings" "$work/comments.yaml"
expect_config_error "huge diffusion.timesteps" "config key 'diffusion.timesteps'" "$config" \
  --set diffusion.timesteps=2000000000
expect_config_error "fp16 on the CPU" "train.precision fp16 in $config needs a GPU" "$config" --set train.precision=fp16 \
  --set runtime.device=cpu
expect_config_error "huge runtime.threads" "config key 'runtime.threads'" "$config" --set runtime.threads=100000

finish "config input"
