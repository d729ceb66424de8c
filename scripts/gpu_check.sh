#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and no network: builds diffuse
# with the CUDA backend, runs the GPU tests (every op against the CPU backend, a
# whole training step on both devices) and a short subset of them under
# compute-sanitizer's memcheck, then benchmarks training the DDPM CIFAR-10 model
# at batch 128 in bf16 and fp32, ending with a table of img/s, MFU (against the
# GPU's dense bf16 datasheet peak, core/gpu_peaks.h: 989 TFLOP/s on an H100 or
# H200 SXM) and peak memory. It ends within 8 minutes
# (DIFFUSE_GPU_CHECK_SECONDS, default 470, from its start): every
# phase's time limit is the smaller of its own and what is left of that budget.
#
#   scripts/gpu_check.sh [BUILD_DIR]        (default build-gpu)
#
# Before building it checks the driver, nvcc, CMake, cuDNN, NCCL, their pip
# wheels in every Python environment and gpu-deps' glibc, lists what is missing
# or does not fit, one line each, and stops if anything does (scripts/gpu_prereqs.sh).
# cuDNN, NCCL and cuBLAS are taken from CUDNN_ROOT / NCCL_ROOT, the CUDA
# toolkit (CUDA_HOME, default /usr/local/cuda), gpu-deps/prefix or Python
# wheels of nvcc's CUDA major (site-packages/nvidia/...), the first that has
# them, never from another CUDA toolkit. The other libraries come from the
# system, or, where the system lacks them, from gpu-deps/prefix: made here by
# scripts/prepare_gpu_deps.sh and carried as gpu-deps/gpu-deps.tar.xz, which
# this script unpacks (DIFFUSE_USE_GPU_DEPS=1: use it even where the system has
# the headers). Without MPI on the machine the build has no MPI. Extra CMake
# arguments: DIFFUSE_CMAKE_ARGS="-DDIFFUSE_WERROR=ON" scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build-gpu}
logs=$build/gpu-check-logs
started=$SECONDS
budget=${DIFFUSE_GPU_CHECK_SECONDS:-470}
say() { echo "gpu_check [$((SECONDS - started))s] $*"; }
# phase_limit SECONDS: a phase's time limit, at most what is left of the budget (at least 1 s).
phase_limit() {
  local left=$((budget - (SECONDS - started)))
  ((left < $1)) || left=$1
  echo $((left > 0 ? left : 1))
}
fail() {
  echo "gpu_check: $*" >&2
  exit 1
}

# ---- the GPU ---------------------------------------------------------------------------------------------------
command -v nvidia-smi >/dev/null || fail "no NVIDIA driver on this machine (nvidia-smi not found): run this on a GPU machine"
gpus=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader) ||
  fail "nvidia-smi cannot talk to the driver: $(nvidia-smi 2>&1 | head -1)"
[[ -n "$gpus" ]] || fail "nvidia-smi lists no GPU"
say "GPUs: $(echo "$gpus" | tr '\n' ';')"
# Build for the first GPU's architecture only (compute_cap 9.0 -> 90): half the compile time of CI's 80;90.
arch=$(echo "$gpus" | head -1 | awk -F', ' '{gsub(/\./, "", $2); print $2}')

# ---- the CUDA toolkit and its libraries ------------------------------------------------------------------------
cuda_home=${CUDA_HOME:-/usr/local/cuda}
nvcc=$cuda_home/bin/nvcc
[[ -x "$nvcc" ]] || nvcc=$(command -v nvcc) || fail "no CUDA compiler: set CUDA_HOME to the toolkit (nvcc not in $cuda_home/bin or PATH)"
cuda_home=$(cd "$(dirname "$nvcc")/.." && pwd)
say "nvcc: $("$nvcc" --version | tail -1)"

if [[ ! -d gpu-deps/prefix && -f gpu-deps/gpu-deps.tar.xz ]]; then
  say "unpacking gpu-deps/gpu-deps.tar.xz"
  tar -C gpu-deps -xJf gpu-deps/gpu-deps.tar.xz
fi
deps=$root/gpu-deps/prefix

# ---- before building: nvcc, the driver, CMake, the pip wheels of cuDNN and NCCL in every Python environment, then
# (below) the cuDNN and NCCL headers and gpu-deps' glibc; one line for each problem, all listed before stopping.
prereq_source=$root
# shellcheck source=scripts/gpu_prereqs.sh
source scripts/gpu_prereqs.sh
check_nvcc "$nvcc"
check_driver
check_cmake
check_python_wheels
wheel_roots=()  # where a toolkit without cuBLAS finds a wheel's
for dir in "${active_site_packages[@]}"; do [[ -d "$dir/nvidia" ]] && wheel_roots+=("$dir/nvidia"); done

runtime_dirs=()
cmake_libs=()
# locate LIBRARY HEADER VARIABLE_PREFIX EXTRA_ROOT [WHEEL_ROOT...]: passes the library file and header folder to
# CMake; sets located_include.
locate() {
  local library=$1 header=$2 variable=$3 extra=$4 roots file include
  shift 4
  roots=()
  [[ -n "$extra" ]] && roots+=("$extra")
  roots+=("$cuda_home" "$deps" "$@" /usr /usr/local)
  file=$(find_library "$library" "${roots[@]}") ||
    fail "$library not found in: ${roots[*]} (install the toolkit's, a wheel's, or set ${variable}_ROOT)"
  include=$(find_file_in "$header" "$(dirname "$(dirname "$file")")" "${roots[@]}") ||
    fail "$header not found next to $file"
  say "$library: $file (headers $(dirname "$include"))"
  cmake_libs+=("-DDIFFUSE_${variable}_LIBRARY=$file" "-DDIFFUSE_${variable}_INCLUDE=$(dirname "$include")")
  runtime_dirs+=("$(dirname "$file")")
  located_include=$(dirname "$include")
}
locate libcudnn cudnn.h CUDNN "${CUDNN_ROOT:-}" "${cudnn_wheel_roots[@]}"
check_library_headers cuDNN "$located_include" kCudnnFloor
locate libnccl nccl.h NCCL "${NCCL_ROOT:-}" "${nccl_wheel_roots[@]}"
check_library_headers NCCL "$located_include" kNcclFloor
if ! find_file_in "libcublas.so*" "$cuda_home/lib64" "$cuda_home/lib" "$cuda_home/targets" >/dev/null; then
  cublas=$(find_file_in "libcublas.so.[0-9]*" "${wheel_roots[@]}") || fail "cuBLAS is in neither the toolkit nor a wheel"
  export CUBLAS_ROOT
  CUBLAS_ROOT=$(dirname "$(dirname "$cublas")")
  runtime_dirs+=("$(dirname "$cublas")")
  say "cuBLAS: $cublas (wheel)"
fi

# ---- everything else: the system's, or gpu-deps' where the system lacks any ----------------------------------
cmake_deps=()
missing=()
for header in hdf5.h yaml-cpp/yaml.h CLI/CLI.hpp png.h jpeglib.h zlib.h gtest/gtest.h oneapi/dnnl/dnnl.hpp eigen3/Eigen/Core; do
  found=no
  for dir in /usr/include /usr/local/include /usr/include/hdf5/serial; do
    [[ -e "$dir/$header" ]] && found=yes
  done
  [[ $found == yes ]] || missing+=("$header")
done
# DIFFUSE_USE_GPU_DEPS=1 takes gpu-deps even where the system has the headers (another version, say).
[[ "${DIFFUSE_USE_GPU_DEPS:-0}" == 1 ]] && missing+=("(DIFFUSE_USE_GPU_DEPS=1)")
if ((${#missing[@]})); then
  [[ -d "$deps" ]] || fail "the system lacks ${missing[*]} and there is no gpu-deps/: run scripts/prepare_gpu_deps.sh \
on a Debian machine with the packages and bring gpu-deps/gpu-deps.tar.xz"
  say "using gpu-deps/prefix (the system lacks ${missing[*]})"
  check_glibc "$deps/GLIBC_FLOOR"
  # DT_RPATH (not RUNPATH) so that the libraries' own dependencies are found in the prefix too.
  cmake_deps+=("-DCMAKE_PREFIX_PATH=$deps" "-DHDF5_ROOT=$deps" "-DHDF5_PREFER_PARALLEL=OFF"
    "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$deps/lib -Wl,--disable-new-dtags -Wl,-rpath,$deps/lib")
  runtime_dirs+=("$deps/lib")
fi
mpi=OFF
command -v mpicc >/dev/null && mpi=AUTO
((prereq_problems == 0)) || fail "$prereq_problems problem$( ((prereq_problems == 1)) || echo s) above; nothing was built"

# ---- build -----------------------------------------------------------------------------------------------------
mkdir -p "$build"
mkdir -p "$logs"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
[[ -f "$build/CMakeCache.txt" ]] && generator=()  # keep the generator the folder was made with
read -r -a extra_args <<<"${DIFFUSE_CMAKE_ARGS:-}"
say "configuring $build (sm_$arch, MPI $mpi)"
timeout "$(phase_limit 120)" cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DDIFFUSE_CUDA=ON \
  -DDIFFUSE_MPI=$mpi -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" "${cmake_libs[@]}" \
  "${cmake_deps[@]}" "${extra_args[@]}" >"$logs/configure.log" 2>&1 || {
  tail -30 "$logs/configure.log"
  fail "configure failed (log: $logs/configure.log)"
}
grep -E "^-- diffuse:" "$logs/configure.log" || true
say "building diffuse and the GPU tests"
timeout "$(phase_limit 300)" cmake --build "$build" --parallel "$(nproc)" --target diffuse test_gpu >"$logs/build.log" 2>&1 || {
  grep -E "error|Error" "$logs/build.log" | head -30
  fail "build failed (log: $logs/build.log)"
}

runtime_path=$(IFS=:; echo "${runtime_dirs[*]}")
run() { LD_LIBRARY_PATH="$runtime_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
run "$build/diffuse" info | sed 's/^/  /'

# ---- tests -----------------------------------------------------------------------------------------------------
say "GPU tests"
tests_ok=yes
if run timeout "$(phase_limit 180)" "$build/tests/gpu/test_gpu" --gtest_brief=1 >"$logs/test_gpu.log" 2>&1; then
  grep -E "^\[  (PASSED|SKIPPED) " "$logs/test_gpu.log" | sed 's/^/  /'
else
  tests_ok=no
  grep -E "Failure|FAILED|error|Expected|Which is|actual|expected" "$logs/test_gpu.log" | head -60 | sed 's/^/  /'
  say "GPU tests FAILED (log: $logs/test_gpu.log); benchmarking anyway"
fi

# ---- memcheck: out-of-bounds and misaligned accesses of device memory, on the op tables' small cases
sanitizer=$(command -v compute-sanitizer || true)
for candidate in "$cuda_home/bin/compute-sanitizer" "$cuda_home/compute-sanitizer/compute-sanitizer"; do
  [[ -z "$sanitizer" && -x "$candidate" ]] && sanitizer=$candidate
done
if [[ -n "$sanitizer" ]]; then
  say "memcheck: the op table's small cases under compute-sanitizer"
  memcheck_status=0
  run timeout "$(phase_limit 60)" "$sanitizer" --tool memcheck --error-exitcode 86 "$build/tests/gpu/test_gpu" \
    --gtest_brief=1 --gtest_filter='AllOps/GpuOps.*:SharedTable/GpuLowPrecisionActivations.*:Types/GpuLowPrecisionProductActivations.*' \
    >"$logs/memcheck.log" 2>&1 || memcheck_status=$?
  # Errors it printed before running out of time count too.
  grep -qE "ERROR SUMMARY: [1-9]|========= Invalid " "$logs/memcheck.log" &&
    memcheck_status=86
  case $memcheck_status in
    0) say "memcheck: no errors" ;;
    124) say "memcheck ran out of its time before the subset finished: no errors so far (log: $logs/memcheck.log)" ;;
    *)
      tests_ok=no
      grep -E "ERROR SUMMARY|Invalid|========= " "$logs/memcheck.log" | head -30 | sed 's/^/  /'
      say "memcheck FAILED (log: $logs/memcheck.log)"
      ;;
  esac
else
  say "memcheck skipped: no compute-sanitizer in $cuda_home or on PATH"
fi

# ---- benchmark -------------------------------------------------------------------------------------------------
device_flag=()
run "$build/diffuse" bench train --help 2>/dev/null | grep -q -- "--device" && device_flag=(--device cuda)
declare -A results
for precision in bf16 fp32; do
  say "bench train: configs/cifar10_ddpm.yaml, batch 128, $precision"
  # DIFFUSE_CUDNN_LOG_ALGORITHMS=1: the cuDNN algorithm of each convolution, printed once, when it is chosen.
  if run env DIFFUSE_CUDNN_LOG_ALGORITHMS=1 timeout "$(phase_limit 120)" "$build/diffuse" bench train --config configs/cifar10_ddpm.yaml \
    --batch 128 --steps 5 --warmup 2 "${device_flag[@]}" --set "train.precision=$precision" >"$logs/bench-$precision.log" 2>&1; then
    sed 's/^/  /' "$logs/bench-$precision.log" | grep -v '^  {'
    results[$precision]=$(tail -1 "$logs/bench-$precision.log")
  else
    tail -5 "$logs/bench-$precision.log" | sed 's/^/  /'
    results[$precision]=""
  fi
done

# field JSON KEY: a number from the bench's JSON line.
field() { echo "$1" | grep -o "\"$2\": [0-9.e+-]*" | awk '{print $2}'; }
echo
echo "gpu_check: $(echo "$gpus" | head -1 | cut -d, -f1), DDPM CIFAR-10 (35.7M parameters), batch 128, $((SECONDS - started)) s"
mfu_peak=$(echo "${results[bf16]:-${results[fp32]:-}}" | grep -o '"mfu_peak": "[^"]*"' | cut -d'"' -f4)
echo "MFU against the dense bf16 peak of: ${mfu_peak:-no known GPU (MFU 0)}"
printf '%-10s %10s %8s %18s %18s\n' precision "img/s" MFU "tensors peak GiB" "GPU pool peak GiB"
for precision in bf16 fp32; do
  json=${results[$precision]}
  if [[ -z "$json" ]]; then
    printf '%-10s %10s\n' "$precision" "failed (log: $logs/bench-$precision.log)"
    continue
  fi
  printf '%-10s %10.1f %8.3f %18.2f %18.2f\n' "$precision" "$(field "$json" img_per_s)" "$(field "$json" mfu)" \
    "$(awk -v b="$(field "$json" peak_mem_bytes)" 'BEGIN {print b / 2^30}')" \
    "$(awk -v b="$(field "$json" gpu_pool_peak_bytes)" 'BEGIN {print b / 2^30}')"
done
[[ $tests_ok == yes && -n "${results[bf16]}" && -n "${results[fp32]}" ]] || exit 1
