#!/usr/bin/env bash
# Runs a diffuse command on the nodes of an Open MPI hostfile (see hostfile.example),
# as many ranks per node as its slots (its GPUs):
#   launch/mpirun_hosts.sh HOSTFILE diffuse train --config configs/cifar10_ddpm.yaml --run-dir /shared/runs/x --resume auto
# Every node must reach the others by ssh without a password and see the same
# binary, data and run directory (a shared file system: rank 0 writes, every
# rank reads the checkpoint on resume). The environment below is passed to the
# ranks with -x. SIGTERM or SIGINT to this script becomes SIGUSR1 to every rank
# (a clean stop with a checkpoint).
set -euo pipefail
# shellcheck source=launch/mpirun_common.sh
source "$(dirname "$0")/mpirun_common.sh"
if [[ $# -lt 2 || ! -f $1 ]]; then
  echo "usage: $0 HOSTFILE diffuse COMMAND [ARGS...]" >&2
  exit 2
fi
hostfile=$1
shift
ranks=$(awk '!/^[[:space:]]*(#|$)/ { for (i = 2; i <= NF; ++i) if ($i ~ /^slots=/) { sub("slots=", "", $i); n += $i } } END { print n + 0 }' "$hostfile")
if ((ranks == 0)); then
  echo "error: $hostfile lists no slots (write 'node slots=GPUS' per line)" >&2
  exit 2
fi
allow_mpirun_as_root

# Threads: unset, each rank uses (hardware threads / ranks on its node). NCCL_*
# (e.g. NCCL_SOCKET_IFNAME, NCCL_IB_HCA) and the library path reach every rank.
forward=(-x PATH -x LD_LIBRARY_PATH)
for variable in $(compgen -e | grep -E '^(NCCL_|OMP_NUM_THREADS$|CUDA_VISIBLE_DEVICES$)' || true); do
  forward+=(-x "$variable")
done

run_with_clean_stop mpirun -np "$ranks" --hostfile "$hostfile" --map-by slot --bind-to none "${forward[@]}" "$@"
