# shellcheck shell=bash
# The checks scripts/gpu_check.sh makes before it builds, and how it finds cuDNN and NCCL, as functions to
# source (tests/cli/test_gpu_prereqs.sh drives them with a fake nvidia-smi, nvcc, cmake, ldd, Python
# environments and library folders): the driver against nvcc's CUDA, nvcc and CMake against diffuse's floors,
# cuDNN and NCCL (headers and pip wheels) against the floors in core/library_versions.h and nvcc's CUDA major,
# and gpu-deps' glibc floor against this machine's glibc.
# The floors are read from where the build keeps them, never repeated here.
#
# Each finding is one line on stdout. `problem` lines stop the build (prereq_problems counts them; the caller
# stops after every check has run, so that all of them are listed); `warning` lines do not.
#
# Needs prereq_source (the repository root) and, for finding libraries, cuda_home (nvcc's toolkit).
# shellcheck disable=SC2154

prereq_problems=0
problem() {
  echo "gpu_check: $*"
  prereq_problems=$((prereq_problems + 1))
}
warning() { echo "gpu_check: warning: $*"; }

# version_at_least HAVE NEED: whether the dotted version HAVE is NEED or newer (a missing part counts as 0).
version_at_least() {
  local IFS=. i
  local -a have need
  read -r -a have <<<"$1"
  read -r -a need <<<"$2"
  for ((i = 0; i < ${#have[@]} || i < ${#need[@]}; i++)); do
    ((10#${have[i]:-0} > 10#${need[i]:-0})) && return 0
    ((10#${have[i]:-0} < 10#${need[i]:-0})) && return 1
  done
  return 0
}

# ---- the floors, from the files the build reads ----------------------------------------------------------------
# library_floor CONSTANT: kCudnnFloor's or kNcclFloor's version in core/library_versions.h, as 9.0.0.
library_floor() {
  local code
  code=$(sed -n "s/^constexpr long $1 = \([0-9]*\);.*/\1/p" "$prereq_source/core/library_versions.h")
  echo "$((code / 10000)).$((code % 10000 / 100)).$((code % 100))"
}
cmake_floor() { sed -n 's/^cmake_minimum_required(VERSION \([0-9.]*\)).*/\1/p' "$prereq_source/CMakeLists.txt"; }
cuda_floor() { sed -n 's/^ *set(DIFFUSE_CUDA_FLOOR \([0-9.]*\)).*/\1/p' "$prereq_source/cmake/Dependencies.cmake"; }

# ---- the toolchain ---------------------------------------------------------------------------------------------
# check_nvcc NVCC: sets nvcc_cuda (13.0) from NVCC --version, and says when it is older than diffuse's floor.
check_nvcc() {
  nvcc_cuda=$("$1" --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p' | sed -n 1p)
  if [[ -z "$nvcc_cuda" ]]; then
    problem "$1 --version names no CUDA release: is it nvcc?"
    nvcc_cuda=0
  elif ! version_at_least "$nvcc_cuda" "$(cuda_floor)"; then
    problem "nvcc is CUDA $nvcc_cuda; diffuse builds with CUDA $(cuda_floor) or newer: set CUDA_HOME to a newer toolkit"
  fi
}

# check_driver: whether the driver runs what nvcc_cuda's nvcc builds (nvidia-smi's "CUDA Version" is the newest
# CUDA the driver runs). Within one major, CUDA's minor-version compatibility runs code built for the GPU's own
# architecture (as gpu_check.sh builds) on an older driver; across majors nothing runs.
check_driver() {
  local driver driver_cuda
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | sed -n 1p)
  driver_cuda=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' | sed -n 1p)
  if [[ -z "$driver_cuda" ]]; then
    problem "nvidia-smi names no CUDA version for driver ${driver:-?}: is the driver loaded?"
  elif version_at_least "$driver_cuda" "$nvcc_cuda"; then
    return 0
  elif [[ "${driver_cuda%%.*}" != "${nvcc_cuda%%.*}" ]]; then
    problem "driver $driver runs CUDA up to $driver_cuda but nvcc is CUDA $nvcc_cuda: what it builds cannot run" \
      "here; use a CUDA ${driver_cuda%%.*}.x toolkit (CUDA_HOME) or a newer driver"
  else
    warning "driver $driver runs CUDA up to $driver_cuda, older than nvcc's $nvcc_cuda: fine for this GPU's" \
      "architecture (minor-version compatibility), but PTX for newer GPUs would not load"
  fi
}

# check_cmake: the cmake on PATH against cmake_minimum_required.
check_cmake() {
  local have
  have=$(cmake --version 2>/dev/null | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p')
  if [[ -z "$have" ]]; then
    problem "no cmake on PATH: diffuse needs CMake $(cmake_floor) or newer (pip install cmake has one)"
  elif ! version_at_least "$have" "$(cmake_floor)"; then
    problem "CMake $have is older than $(cmake_floor), the oldest diffuse builds with: pip install cmake has a newer one"
  fi
}

# ---- cuDNN and NCCL --------------------------------------------------------------------------------------------
# check_library_headers LIBRARY INCLUDE_DIR FLOOR_CONSTANT: the version in cuDNN's cudnn_version.h or NCCL's nccl.h
# against the floor: the floor's major (another major has another API), at the floor or newer.
check_library_headers() {
  local library=$1 include=$2 floor file version
  local -a names
  floor=$(library_floor "$3")
  case $library in
    cuDNN) file=$include/cudnn_version.h names=(CUDNN_MAJOR CUDNN_MINOR CUDNN_PATCHLEVEL) ;;
    NCCL) file=$include/nccl.h names=(NCCL_MAJOR NCCL_MINOR NCCL_PATCH) ;;
  esac
  version=$(for name in "${names[@]}"; do sed -n "s/^#define $name \([0-9]*\).*/\1/p" "$file" 2>/dev/null | sed -n 1p; done |
    paste -sd.)
  if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    problem "$file names no $library version"
  elif [[ "${version%%.*}" != "${floor%%.*}" ]] || ! version_at_least "$version" "$floor"; then
    problem "$library $version in $include does not fit: diffuse needs $library ${floor%%.*}.x at $floor or newer" \
      "(core/library_versions.h); set ${library^^}_ROOT to one"
  fi
}

# Where inactive Python environments live besides $HOME's (tests empty it).
system_python_envs=(/opt/conda /opt/conda/envs/*)

# python_env_roots: the folders of the Python environments on this machine, active or not (venvs, conda
# environments, ~/.local), one a line.
python_env_roots() {
  local root
  for root in "$HOME/.local" "$HOME"/.venv "$HOME"/venv* "$HOME"/.virtualenvs/* "$HOME"/{miniconda3,anaconda3,miniforge3,mambaforge} \
    "$HOME"/{miniconda3,anaconda3,miniforge3,mambaforge}/envs/* "${system_python_envs[@]}" ${CONDA_PREFIX:+"$CONDA_PREFIX"} \
    ${VIRTUAL_ENV:+"$VIRTUAL_ENV"}; do
    [[ -d "$root" ]] && echo "$root"
  done
  return 0
}

# check_wheels_in SITE_PACKAGES WHERE: each nvidia-cudnn-cuNN / nvidia-nccl-cuNN wheel there against nvcc_cuda's
# major and the floor, one warning line each that does not fit; in the active environment (WHERE = active) those
# that fit are added to cudnn_wheel_roots / nccl_wheel_roots, where gpu_check.sh looks for the libraries.
check_wheels_in() {
  local site_packages=$1 where=$2 info name package version library cuda floor label
  for info in "$site_packages"/nvidia_cudnn_cu*-*.dist-info "$site_packages"/nvidia_nccl_cu*-*.dist-info; do
    [[ -d "$info" ]] || continue
    name=$(basename "$info" .dist-info)  # nvidia_cudnn_cu12-9.1.0.70
    package=${name%%-*}
    version=${name#*-}
    library=${package#nvidia_}
    library=${library%_cu*}
    cuda=${package##*_cu}
    label="${package//_/-} $version in $site_packages ($where)"
    if [[ "$library" == cudnn ]]; then floor=$(library_floor kCudnnFloor); else floor=$(library_floor kNcclFloor); fi
    if [[ "$cuda" != "${nvcc_cuda%%.*}" ]]; then
      warning "$label is for CUDA $cuda but nvcc is CUDA $nvcc_cuda: the build leaves it out; a diffuse run in" \
        "that environment needs nvidia-${library}-cu${nvcc_cuda%%.*}"
    elif ! version_at_least "$version" "$floor"; then
      warning "$label is older than diffuse's floor $floor (core/library_versions.h): the build leaves it out"
    elif [[ "$where" == active ]]; then
      if [[ "$library" == cudnn ]]; then cudnn_wheel_roots+=("$site_packages/nvidia/cudnn"); else
        nccl_wheel_roots+=("$site_packages/nvidia/nccl"); fi
    fi
  done
}

# check_python_wheels: the cuDNN and NCCL wheels of the active python (site-packages and user site) and of every
# inactive environment python_env_roots finds. Sets active_site_packages, cudnn_wheel_roots and nccl_wheel_roots.
check_python_wheels() {
  local site_packages root
  local -A seen
  cudnn_wheel_roots=()
  nccl_wheel_roots=()
  active_site_packages=()
  while read -r site_packages; do
    [[ -d "$site_packages" ]] || continue
    active_site_packages+=("$site_packages")
    seen[$(cd "$site_packages" && pwd -P)]=1
    check_wheels_in "$site_packages" active
  done < <(python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' \
    2>/dev/null || true)
  while read -r root; do
    for site_packages in "$root"/lib/python3*/site-packages; do
      [[ -d "$site_packages" && -z "${seen[$(cd "$site_packages" && pwd -P)]:-}" ]] || continue
      seen[$(cd "$site_packages" && pwd -P)]=1
      check_wheels_in "$site_packages" "not active"
    done
  done < <(python_env_roots)
}

# ---- finding them ----------------------------------------------------------------------------------------------
# in_other_toolkit FILE: whether FILE lies in a CUDA toolkit (a cuda* folder with bin/nvcc) other than cuda_home's:
# its libraries are built for that toolkit's CUDA (/usr/local/cuda-13.0's cuDNN under a CUDA 12 nvcc, say).
in_other_toolkit() {
  local dir home
  home=$(cd "$cuda_home" && pwd -P)
  dir=$(cd "$(dirname "$1")" && pwd -P)
  while [[ "$dir" != / ]]; do
    if [[ "$(basename "$dir")" == cuda* && -x "$dir/bin/nvcc" ]]; then
      [[ "$dir" != "$home" ]]
      return
    fi
    dir=$(dirname "$dir")
  done
  return 1
}

# find_file_in NAME_PATTERN ROOT...: the first file matching the pattern under the roots, outside other toolkits.
find_file_in() {
  local pattern=$1 dir file
  local -a files
  shift
  for dir in "$@"; do
    [[ -d "$dir" ]] || continue
    mapfile -t files < <(find -L "$dir" -maxdepth 5 -name "$pattern" \( -type f -o -type l \) 2>/dev/null | sort)
    for file in "${files[@]}"; do
      if ! in_other_toolkit "$file"; then
        echo "$file"
        return 0
      fi
    done
  done
  return 1
}

# find_library LIBRARY ROOT...: LIBRARY.so, or a versioned LIBRARY.so.N as pip wheels ship, from the first root
# that has either.
find_library() {
  local library=$1 dir
  shift
  for dir in "$@"; do
    find_file_in "$library.so" "$dir" || find_file_in "$library.so.[0-9]*" "$dir" && return 0
  done
  return 1
}

# ---- gpu-deps --------------------------------------------------------------------------------------------------
# check_glibc FLOOR_FILE: the glibc that gpu-deps' libraries need (GLIBC_FLOOR, written by prepare_gpu_deps.sh)
# against this machine's (ldd --version).
check_glibc() {
  local floor have
  if [[ ! -f "$1" ]]; then
    warning "$1 is missing (packed by an older prepare_gpu_deps.sh): the glibc its libraries need is unknown"
    return 0
  fi
  floor=$(cat "$1")
  have=$(ldd --version 2>&1 | sed -n 1p | grep -o '[0-9][0-9.]*$' || true)
  if [[ -z "$have" ]]; then
    warning "ldd --version names no glibc version; gpu-deps needs glibc $floor or newer"
  elif ! version_at_least "$have" "$floor"; then
    problem "gpu-deps' libraries need glibc $floor or newer but this machine has $have: run" \
      "scripts/prepare_gpu_deps.sh on a machine with glibc $have or older, or install the libraries here"
  fi
}

# glibc_floor FILE...: the newest GLIBC_x.y symbol version the files reference (what they need of the C library).
glibc_floor() {
  local file
  for file in "$@"; do objdump -T "$file" 2>/dev/null || true; done | grep -o 'GLIBC_[0-9][0-9.]*' |
    sed 's/^GLIBC_//' | sort -V | tail -1
}
