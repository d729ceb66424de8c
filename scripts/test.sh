#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs every test through ctest,
# the MPI tests under mpirun included. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Open MPI refuses to start as root unless told it may (CI runs as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Tests run side by side with two OpenMP threads each, more threads than cores: spinning waiters would burn
# whole timeslices at every barrier (a U-Net gradient check: 1.6 s alone, over 6 minutes beside another).
export OMP_WAIT_POLICY=passive
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
