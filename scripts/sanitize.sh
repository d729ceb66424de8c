#!/usr/bin/env bash
# Builds the CPU backend with AddressSanitizer and UndefinedBehaviorSanitizer into build-sanitize/ and
# runs the unit tests there through ctest. Any sanitizer report fails its test, so the script exits
# non-zero on an out-of-bounds access, a use after free, a leak, undefined behaviour or a failing test.
#
# Which tests: every GoogleTest binary of the areas in `areas` (ctest label and build target tests_AREA:
# tests/CMakeLists.txt), so a new binary in one of them is run without a change here; minus the tests
# matched by `too_slow`, training and distillation runs of several minutes each even without sanitizers.
# Not run here:
#   - the GPU tests: this build has no CUDA backend;
#   - the eval area: test_eval trains models and drives the whole `diffuse` binary end to end;
#   - the MPI tests and the CLI scripts (mpi.*, eval.mpi_*, cli.*): they run the `diffuse` binary
#     and real ranks under mpirun, minutes each under the sanitizers.
# On two cores the build takes about 21 minutes and the tests about 4.
#
# Needs the packages scripts/setup.sh installs. Extra CMake arguments go on the command line:
#   scripts/sanitize.sh -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
set -euo pipefail
cd "$(dirname "$0")/.."

areas=(core ops io data model diffusion distributed optim run trainer)
too_slow='^(DistillationTest\.(TwoStagesLowerTheirLossAndLabelTheirStudents|ResumeRecreatesTheSameStudents)|TrainingTest\.LossFallsAndMetricsAreWritten)$'

sanitize_flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# -g1: line numbers in the reports, at little cost in build time.
mkdir -p build-sanitize
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DDIFFUSE_CUDA=OFF "-DCMAKE_CXX_FLAGS=-g1 $sanitize_flags" \
  "-DCMAKE_EXE_LINKER_FLAGS=$sanitize_flags" "$@" >build-sanitize/configure.log ||
  { cat build-sanitize/configure.log; exit 1; }

# No detect_stack_use_after_return: GCC places 64-byte-aligned locals (the AVX-512 stores of
# core/cpu/uniform_batch.cpp) in its fake stack frames unaligned, and the aligned store then faults.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Two tests at a time with two OpenMP threads each oversubscribe the cores; spinning waiters then burn whole
# timeslices at every barrier, which the sanitizers' slower code turns into minutes (the ADM U-Net's gradient
# check: over 10 minutes spinning, 12 s passive).
export OMP_WAIT_POLICY=passive
# The build runs each test binary to list its tests, so the options are set before it.
cmake --build build-sanitize --parallel "$(nproc)" --target "${areas[@]/#/tests_}"

labels=$(IFS='|'; echo "^(${areas[*]})\$")
cd build-sanitize
ctest --output-on-failure --parallel "$(nproc)" --timeout 900 -L "$labels" -E "$too_slow"
