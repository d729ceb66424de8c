#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs every test through ctest,
# the MPI tests under mpirun included. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Open MPI refuses to start as root unless told it may (CI runs as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
