#!/usr/bin/env bash
# Collects what diffuse builds against besides CUDA (HDF5, yaml-cpp, oneDNN,
# CLI11, libpng, libjpeg, zlib, Eigen, GoogleTest: headers, libraries and the
# shared libraries they load) from this Debian machine into gpu-deps/prefix, and packs
# it as gpu-deps/gpu-deps.tar.xz. scripts/gpu_check.sh unpacks and uses it on a
# GPU machine where nothing can be installed. Open MPI is left out: it needs
# its install tree and plugins, so the GPU build goes without MPI unless the
# machine has one. Run here after scripts/setup.sh (the Debian packages must be
# installed); gpu-deps/ is ignored by git. The glibc its libraries need is written
# into it (prefix/GLIBC_FLOOR) and printed: a GPU machine with an older glibc
# cannot load them, which gpu_check.sh says before building.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=gpu-deps/prefix
archive=gpu-deps/gpu-deps.tar.xz
multiarch=/usr/lib/x86_64-linux-gnu
rm -rf "$prefix" "$archive"
mkdir -p "$prefix/include" "$prefix/lib/cmake/yaml-cpp"

need() { [[ -e "$1" ]] || { echo "prepare_gpu_deps: $1 is missing: run scripts/setup.sh first" >&2; exit 1; }; }
copy_header() {  # copy_header FILE_OR_DIR [DEST_NAME]: into include/, following links
  need "$1"
  cp -rL "$1" "$prefix/include/${2:-$(basename "$1")}"
}

# ---- headers
for file in /usr/include/hdf5/serial/*; do copy_header "$file"; done
copy_header /usr/include/yaml-cpp
copy_header /usr/include/CLI
copy_header /usr/include/gtest
copy_header /usr/include/eigen3
mkdir -p "$prefix/share/eigen3"
cp -r /usr/share/eigen3/cmake "$prefix/share/eigen3/"  # relocatable: paths relative to its own folder
for file in png.h pngconf.h pnglibconf.h jpeglib.h jmorecfg.h jerror.h zlib.h zconf.h; do copy_header "/usr/include/$file"; done
copy_header /usr/include/x86_64-linux-gnu/jconfig.h
copy_header /usr/include/oneapi

# ---- libraries we link, under the names CMake's find modules look for
link_library() {  # link_library REAL_FILE NAME...: the file as its soname, plus linker names
  need "$1"
  local soname
  soname=$(objdump -p "$1" | awk '/SONAME/ {print $2}')
  cp -L "$1" "$prefix/lib/$soname"
  shift
  for name in "$@"; do ln -sf "$soname" "$prefix/lib/$name"; done
}
link_library "$multiarch/libhdf5_serial.so" libhdf5.so libhdf5_serial.so
link_library "$multiarch/libyaml-cpp.so" libyaml-cpp.so
link_library "$multiarch/libdnnl.so" libdnnl.so
link_library "$multiarch/libpng16.so" libpng16.so libpng.so
link_library "$multiarch/libjpeg.so" libjpeg.so
link_library "$multiarch/libz.so" libz.so
cp "$multiarch/libgtest.a" "$multiarch/libgtest_main.a" "$prefix/lib/"

# ---- what those load, except the C library and the compiler's runtime, which the GPU machine's own compiler brings
keep_system='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s|libgomp|linux-vdso)\.'
for library in "$prefix"/lib/*.so.*; do
  ldd "$library" | awk '/=> \// {print $3}'
done | sort -u | while read -r dependency; do
  name=$(basename "$dependency")
  if [[ ! "$name" =~ $keep_system && ! -e "$prefix/lib/$name" ]]; then cp -L "$dependency" "$prefix/lib/$name"; fi
done

# ---- yaml-cpp ships only a CMake package config; this one points into the prefix
cat >"$prefix/lib/cmake/yaml-cpp/yaml-cpp-config.cmake" <<'CMAKE'
# yaml-cpp from gpu-deps (scripts/prepare_gpu_deps.sh).
get_filename_component(_diffuse_deps "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET yaml-cpp)
  add_library(yaml-cpp SHARED IMPORTED)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION "${_diffuse_deps}/lib/libyaml-cpp.so"
                        INTERFACE_INCLUDE_DIRECTORIES "${_diffuse_deps}/include")
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()
set(yaml-cpp_FOUND TRUE)
CMAKE

# ---- the oldest glibc all of it runs with (the newest GLIBC_x.y symbol version it references), for gpu_check.sh to
# compare with the GPU machine's
prereq_source=$PWD
# shellcheck source=scripts/gpu_prereqs.sh
source scripts/gpu_prereqs.sh
glibc=$(glibc_floor "$prefix"/lib/*.so*)
echo "$glibc" >"$prefix/GLIBC_FLOOR"

tar -C gpu-deps -cJf "$archive" prefix
echo "prepare_gpu_deps: $(du -sh "$prefix" | cut -f1) in $prefix, packed into $archive ($(du -sh "$archive" | cut -f1));" \
  "it needs glibc $glibc or newer (GLIBC_FLOOR)"
