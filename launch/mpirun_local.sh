#!/usr/bin/env bash
# Runs a diffuse command as RANKS ranks on this machine:
#   launch/mpirun_local.sh RANKS diffuse train --config configs/fmnist.yaml --run-dir runs/x --resume auto
# One rank per GPU on a GPU machine (more is an error). Ranks are not bound to
# cores: each computes with (hardware threads / ranks) threads unless
# runtime.threads or OMP_NUM_THREADS says otherwise. SIGTERM or SIGINT to this
# script becomes SIGUSR1 to every rank: they stop at the next step with a
# checkpoint, and `--resume auto` continues.
set -euo pipefail
# shellcheck source=launch/mpirun_common.sh
source "$(dirname "$0")/mpirun_common.sh"
if [[ $# -lt 2 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 RANKS diffuse COMMAND [ARGS...]" >&2
  exit 2
fi
ranks=$1
shift

allow_mpirun_as_root
gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
if ((gpus > 0 && ranks > gpus)); then
  echo "error: $ranks ranks but this machine has $gpus GPUs: start one rank per GPU" >&2
  exit 2
fi
oversubscribe=()
((ranks > $(nproc))) && oversubscribe=(--oversubscribe)

run_with_clean_stop mpirun -np "$ranks" --bind-to none "${oversubscribe[@]}" "$@"
