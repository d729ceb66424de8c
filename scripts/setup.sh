#!/usr/bin/env bash
# Installs the Debian packages diffuse needs (only those missing, so a second
# run is fast and quiet), then configures and builds into build/.
# Extra CMake arguments: DIFFUSE_CMAKE_ARGS="-DDIFFUSE_CUDA=OFF" scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libdnnl-dev libhdf5-dev libyaml-cpp-dev libcli11-dev libpng-dev libjpeg-dev zlib1g-dev
  libeigen3-dev libssl-dev nlohmann-json3-dev libzip-dev
  libopenmpi-dev openmpi-bin
  googletest libgtest-dev libbenchmark-dev
  clang-format  # scripts/check_format.sh
  dataset-fashion-mnist
  python3-venv   # tests/cli/test_tensorboard.sh and test_diffusers.sh install their readers in a venv
  python3-torch  # tests/cli/test_diffusers.sh runs diffusers over Debian's torch
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi

cmake_args=(-DCMAKE_BUILD_TYPE=Release)
# CI builds our code (C++ and CUDA) with warnings as errors.
if [[ "${CI:-}" == "true" ]]; then cmake_args+=(-DDIFFUSE_WERROR=ON); fi
# shellcheck disable=SC2206  # word splitting of the user's extra arguments is intended
cmake_args+=(${DIFFUSE_CMAKE_ARGS:-})

cmake -S . -B build "${cmake_args[@]}" >build-configure.log || { cat build-configure.log; exit 1; }
grep -E "^-- diffuse:" build-configure.log || true
cmake --build build --parallel "$(nproc)"
echo "setup: built build/diffuse"
