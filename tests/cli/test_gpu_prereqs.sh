#!/usr/bin/env bash
# The checks scripts/gpu_check.sh makes before it builds (scripts/gpu_prereqs.sh), without a GPU: a fake
# nvidia-smi, nvcc, cmake, ldd and python3 on PATH, fake cuDNN/NCCL headers and pip wheels in active and
# inactive Python environments. Each finding is one line; gpu_check.sh lists them all and stops before building.
# Usage: test_gpu_prereqs.sh path/to/diffuse path/to/source-dir
# The checks are strings that prereqs evaluates in a subshell: their $ expand there.
# shellcheck disable=SC2016
set -euo pipefail
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

# ---- the fakes: their answers come from FAKE_* variables
mkdir -p "$work/bin"
cat >"$work/bin/nvidia-smi" <<'EOF'
#!/usr/bin/env bash
case "$*" in
  *--query-gpu=name,*) echo "NVIDIA H100 80GB HBM3, 9.0, $FAKE_DRIVER, 81559 MiB" ;;
  *--query-gpu=driver_version*) echo "$FAKE_DRIVER" ;;
  *) echo "| NVIDIA-SMI $FAKE_DRIVER    Driver Version: $FAKE_DRIVER    CUDA Version: $FAKE_DRIVER_CUDA     |" ;;
esac
EOF
cat >"$work/bin/nvcc" <<'EOF'
#!/usr/bin/env bash
echo "nvcc: NVIDIA (R) Cuda compiler driver"
echo "Cuda compilation tools, release $FAKE_NVCC, V$FAKE_NVCC.88"
EOF
cat >"$work/bin/cmake" <<'EOF'
#!/usr/bin/env bash
echo "cmake version $FAKE_CMAKE"
EOF
cat >"$work/bin/ldd" <<'EOF'
#!/usr/bin/env bash
echo "ldd (Debian GLIBC $FAKE_GLIBC-9) $FAKE_GLIBC"
EOF
# The active python: its site-packages and user site (the same folder as ~/.local's, found again there).
active=$work/active/lib/python3.11/site-packages
user_site=$work/home/.local/lib/python3.11/site-packages
cat >"$work/bin/python3" <<EOF
#!/usr/bin/env bash
echo "$active"
echo "$user_site"
EOF
chmod +x "$work/bin"/*
export PATH=$work/bin:$PATH HOME=$work/home
export FAKE_DRIVER=535.104.05 FAKE_DRIVER_CUDA=12.2 FAKE_NVCC=12.4 FAKE_CMAKE=3.25.1 FAKE_GLIBC=2.36
unset CONDA_PREFIX VIRTUAL_ENV

# prereqs COMMANDS: the output of COMMANDS run with scripts/gpu_prereqs.sh sourced, then "problems: N".
prereqs() {
  (
    prereq_source=$source_dir
    # shellcheck source=scripts/gpu_prereqs.sh
    source "$source_dir/scripts/gpu_prereqs.sh"
    system_python_envs=()
    nvcc_cuda=$FAKE_NVCC
    cuda_home=${cuda_home:-}
    eval "$1"
    echo "problems: $prereq_problems"
  ) 2>&1
}

# expect NAME OUTPUT PATTERN...: every PATTERN matches a line of OUTPUT, and OUTPUT has no other lines.
expect() {
  local name=$1 output=$2 pattern
  shift 2
  local rest=$output
  for pattern in "$@"; do
    if ! grep -qE -- "$pattern" <<<"$output"; then
      fail "$name: no line matches '$pattern' in: $output"
      return
    fi
    rest=$(grep -vE -- "$pattern" <<<"$rest" || true)
  done
  if [[ -n "$rest" ]]; then
    fail "$name: unexpected lines: $rest"
  else
    pass "$name"
  fi
}

# ---- versions and floors
expect "dotted versions compare part by part" \
  "$(prereqs 'for pair in "12.10 12.9" "9.28.0.42 9.0.0" "2.14 2.14.0" "3.9 3.18" "12 12.4"; do
       version_at_least $pair && echo "$pair: yes" || echo "$pair: no"; done')" \
  '^12.10 12.9: yes$' '^9.28.0.42 9.0.0: yes$' '^2.14 2.14.0: yes$' '^3.9 3.18: no$' '^12 12.4: no$' '^problems: 0$'
floors=$(prereqs 'echo "$(library_floor kCudnnFloor) $(library_floor kNcclFloor) $(cmake_floor) $(cuda_floor)"')
if [[ "$floors" =~ ^[0-9]+\.[0-9]+\.[0-9]+\ [0-9]+\.[0-9]+\.[0-9]+\ [0-9]+\.[0-9]+\ [0-9]+\.[0-9]+ ]]; then
  pass "floors read from core/library_versions.h, CMakeLists.txt and cmake/Dependencies.cmake ($(head -1 <<<"$floors"))"
else
  fail "floors: $floors"
fi

# ---- driver, nvcc, CMake
expect "a driver for an older CUDA major stops the build" \
  "$(FAKE_NVCC=13.0 prereqs 'check_driver')" \
  '^gpu_check: driver 535.104.05 runs CUDA up to 12.2 but nvcc is CUDA 13.0: .*CUDA 12.x toolkit' '^problems: 1$'
expect "a driver for an older CUDA minor is a warning" "$(prereqs 'check_driver')" \
  '^gpu_check: warning: driver 535.104.05 runs CUDA up to 12.2, older than nvcc.s 12.4' '^problems: 0$'
expect "a driver for a newer CUDA says nothing" "$(FAKE_DRIVER_CUDA=13.0 prereqs 'check_driver')" '^problems: 0$'
expect "nvcc's CUDA is read from nvcc --version" \
  "$(FAKE_NVCC=13.0 prereqs 'check_nvcc "$work/bin/nvcc"; echo "cuda $nvcc_cuda"')" '^cuda 13.0$' '^problems: 0$'
expect "an nvcc older than the CUDA floor stops the build" "$(FAKE_NVCC=11.8 prereqs 'check_nvcc "$work/bin/nvcc"')" \
  '^gpu_check: nvcc is CUDA 11.8; diffuse builds with CUDA [0-9.]+ or newer' '^problems: 1$'
expect "a CMake older than cmake_minimum_required stops the build" "$(FAKE_CMAKE=3.16.3 prereqs 'check_cmake')" \
  '^gpu_check: CMake 3.16.3 is older than [0-9.]+, the oldest diffuse builds with' '^problems: 1$'
expect "a recent CMake says nothing" "$(prereqs 'check_cmake')" '^problems: 0$'

# ---- cuDNN and NCCL headers
mkdir -p "$work/old/include" "$work/new/include"
printf '#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 7\n' >"$work/old/include/cudnn_version.h"
printf '#define NCCL_MAJOR 2\n#define NCCL_MINOR 12\n#define NCCL_PATCH 12\n' >"$work/old/include/nccl.h"
printf '#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 19\n#define CUDNN_PATCHLEVEL 0\n' >"$work/new/include/cudnn_version.h"
printf '#define NCCL_MAJOR 2\n#define NCCL_MINOR 28\n#define NCCL_PATCH 9\n' >"$work/new/include/nccl.h"
expect "cuDNN and NCCL headers below the floors stop the build, one line each" \
  "$(prereqs 'check_library_headers cuDNN "$work/old/include" kCudnnFloor
              check_library_headers NCCL "$work/old/include" kNcclFloor')" \
  "^gpu_check: cuDNN 8.9.7 in $work/old/include does not fit: diffuse needs cuDNN 9.x at 9.[0-9.]+ or newer .*CUDNN_ROOT" \
  "^gpu_check: NCCL 2.12.12 in $work/old/include does not fit: diffuse needs NCCL 2.x at 2.[0-9.]+ or newer .*NCCL_ROOT" \
  '^problems: 2$'
expect "cuDNN and NCCL headers above the floors say nothing" \
  "$(prereqs 'check_library_headers cuDNN "$work/new/include" kCudnnFloor
              check_library_headers NCCL "$work/new/include" kNcclFloor')" '^problems: 0$'
expect "a folder without the header says so" "$(prereqs 'check_library_headers cuDNN "$work/bin" kCudnnFloor')" \
  "^gpu_check: $work/bin/cudnn_version.h names no cuDNN version$" '^problems: 1$'

# ---- pip wheels, active and not
wheel() { mkdir -p "$1/$2.dist-info" "$1/nvidia/$3/lib"; }
wheel "$active" nvidia_cudnn_cu13-9.13.0.50 cudnn
wheel "$active" nvidia_nccl_cu12-2.21.5 nccl
wheel "$user_site" nvidia_nccl_cu13-2.10.3 nccl
wheel "$HOME/.venv/lib/python3.12/site-packages" nvidia_cudnn_cu12-9.1.0.70 cudnn
wheel "$HOME/miniconda3/envs/torch/lib/python3.10/site-packages" nvidia_nccl_cu13-2.27.7 nccl
wheel "$work/conda-prefix/lib/python3.11/site-packages" nvidia_cudnn_cu12-9.0.0.312 cudnn
output=$(FAKE_NVCC=13.0 CONDA_PREFIX=$work/conda-prefix prereqs 'check_python_wheels
  echo "cudnn roots: ${cudnn_wheel_roots[*]}"; echo "nccl roots: ${nccl_wheel_roots[*]:-}"')
expect "wheels for another CUDA major, or below the floor, in active and inactive environments: one line each" \
  "$output" \
  "^gpu_check: warning: nvidia-nccl-cu12 2.21.5 in $active \(active\) is for CUDA 12 but nvcc is CUDA 13.0: the build leaves it out; .*needs nvidia-nccl-cu13$" \
  "^gpu_check: warning: nvidia-nccl-cu13 2.10.3 in $user_site \(active\) is older than diffuse's floor 2.[0-9.]+ " \
  "^gpu_check: warning: nvidia-cudnn-cu12 9.1.0.70 in $HOME/.venv/lib/python3.12/site-packages \(not active\) is for CUDA 12 " \
  "^gpu_check: warning: nvidia-cudnn-cu12 9.0.0.312 in $work/conda-prefix/lib/python3.11/site-packages \(not active\) is for CUDA 12 " \
  "^cudnn roots: $active/nvidia/cudnn$" '^nccl roots: $' '^problems: 0$'
expect "with a CUDA 12 nvcc the CUDA 12 wheels fit and the CUDA 13 ones do not" \
  "$(CONDA_PREFIX=$work/conda-prefix prereqs 'check_python_wheels; echo "nccl roots: ${nccl_wheel_roots[*]}"')" \
  "^gpu_check: warning: nvidia-cudnn-cu13 9.13.0.50 in $active \(active\) is for CUDA 13 but nvcc is CUDA 12.4" \
  "^gpu_check: warning: nvidia-nccl-cu13 2.10.3 in $user_site \(active\) is for CUDA 13 " \
  "^gpu_check: warning: nvidia-nccl-cu13 2.27.7 in $HOME/miniconda3/envs/torch/lib/python3.10/site-packages \(not active\) is for CUDA 13 " \
  "^nccl roots: $active/nvidia/nccl$" '^problems: 0$'

# ---- glibc
echo 2.38 >"$work/GLIBC_FLOOR"
expect "gpu-deps needing a newer glibc than the machine's stops the build" \
  "$(prereqs 'check_glibc "$work/GLIBC_FLOOR"')" \
  "^gpu_check: gpu-deps' libraries need glibc 2.38 or newer but this machine has 2.36: " '^problems: 1$'
expect "gpu-deps needing an older glibc says nothing" "$(FAKE_GLIBC=2.39 prereqs 'check_glibc "$work/GLIBC_FLOOR"')" \
  '^problems: 0$'
expect "gpu-deps without GLIBC_FLOOR is a warning" "$(prereqs 'check_glibc "$work/none"')" \
  "^gpu_check: warning: $work/none is missing" '^problems: 0$'
libstdcxx=$(g++ -print-file-name=libstdc++.so.6)
libz=$(find /usr/lib /lib -name 'libz.so.1' 2>/dev/null | sed -n 1p)
floor_both=$(prereqs "glibc_floor '$libz' '$libstdcxx'" | sed -n 1p)
floor_libz=$(prereqs "glibc_floor '$libz'" | sed -n 1p)
floor_libstdcxx=$(prereqs "glibc_floor '$libstdcxx'" | sed -n 1p)
newest=$(printf '%s\n' "$floor_libz" "$floor_libstdcxx" | sort -V | tail -1)
if [[ "$floor_both" =~ ^2\.[0-9]+$ && "$floor_both" == "$newest" ]]; then
  pass "the glibc floor of several libraries is the newest GLIBC_ version any references ($floor_both)"
else
  fail "glibc_floor: both '$floor_both', libz '$floor_libz', libstdc++ '$floor_libstdcxx'"
fi

# ---- finding the libraries: the first root with either name, outside other CUDA toolkits
roots=$work/roots
mkdir -p "$roots/cuda-13.0/bin" "$roots/cuda-13.0/lib" "$roots/wheel/lib" "$roots/plain/lib"
ln -s "$work/bin/nvcc" "$roots/cuda-13.0/bin/nvcc"
touch "$roots/cuda-13.0/lib/libcudnn.so" "$roots/wheel/lib/libcudnn.so.9" "$roots/plain/lib/libcudnn.so"
expect "a library in another CUDA toolkit is passed over" \
  "$(cuda_home=$work/bin prereqs 'find_library libcudnn "$roots/cuda-13.0" "$roots/wheel"')" \
  "^$roots/wheel/lib/libcudnn.so.9$" '^problems: 0$'
expect "nvcc's own toolkit's library is taken" \
  "$(cuda_home=$roots/cuda-13.0 prereqs 'find_library libcudnn "$roots/cuda-13.0" "$roots/wheel"')" \
  "^$roots/cuda-13.0/lib/libcudnn.so$" '^problems: 0$'
expect "a wheel's versioned name in an earlier root comes before a plain name in a later one" \
  "$(cuda_home=$work/bin prereqs 'find_library libcudnn "$roots/wheel" "$roots/plain"')" \
  "^$roots/wheel/lib/libcudnn.so.9$" '^problems: 0$'

# ---- gpu_check.sh lists every problem, then stops before building
mkdir -p "$work/cuda/bin" "$work/cuda/lib64" "$work/old/lib"
ln -s "$work/bin/nvcc" "$work/cuda/bin/nvcc"
touch "$work/cuda/lib64/libcublas.so" "$work/old/lib/libcudnn.so" "$work/old/lib/libnccl.so" "$work/old/include/cudnn.h"
status=0
FAKE_NVCC=13.0 FAKE_CMAKE=3.16.3 CUDA_HOME=$work/cuda CUDNN_ROOT=$work/old NCCL_ROOT=$work/old \
  "$source_dir/scripts/gpu_check.sh" "$work/build" >"$work/gpu_check.log" 2>&1 || status=$?
if [[ $status -ne 0 && ! -e "$work/build/CMakeCache.txt" ]] &&
  grep -q "^gpu_check: driver 535.104.05 runs CUDA up to 12.2 but nvcc is CUDA 13.0" "$work/gpu_check.log" &&
  grep -q "^gpu_check: CMake 3.16.3 is older than" "$work/gpu_check.log" &&
  grep -q "^gpu_check: cuDNN 8.9.7 in $work/old/include does not fit" "$work/gpu_check.log" &&
  grep -q "^gpu_check: NCCL 2.12.12 in $work/old/include does not fit" "$work/gpu_check.log" &&
  grep -q "^gpu_check: 4 problems above; nothing was built" "$work/gpu_check.log"; then
  pass "gpu_check.sh names each problem on its own line and stops before configuring"
else
  fail "gpu_check.sh with problems (exit $status): $(cat "$work/gpu_check.log")"
fi

finish "GPU prerequisite"
