#include <omp.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "core/error.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse::cli {

namespace {

void print_info() {
  std::printf("diffuse %s\n", DIFFUSE_VERSION);
  std::printf("build:     CUDA backend %s, MPI %s\n", DIFFUSE_HAS_CUDA ? "yes" : "no", DIFFUSE_HAS_MPI ? "yes" : "no");
  std::printf("cpu:       %d OpenMP threads\n", omp_get_max_threads());
#if DIFFUSE_HAS_CUDA
  const int gpus = cuda::device_count();
  if (gpus > 0) {
    std::printf("gpus:      %d visible\n", gpus);
  } else {
    std::printf("gpus:      none (%s); ops run on the CPU backend\n", cuda::unavailable_reason().c_str());
  }
  std::printf("libraries: %s\n", cuda::library_versions().c_str());
#else
  std::printf("gpus:      not supported by this build; ops run on the CPU backend\n");
#endif
}

}  // namespace

void add_info_command(CLI::App& app) {
  CLI::App* info = app.add_subcommand("info", "Show the build, the visible devices and library versions");
  info->callback(print_info);
}

}  // namespace diffuse::cli
