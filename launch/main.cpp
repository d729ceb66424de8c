// The `diffuse` command line: one binary, one subcommand per job. Every
// failure ends with one readable "error: ..." line and exit status 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "launch/commands.h"

namespace {

// The rank as the launcher (mpirun or srun) tells it, before MPI starts, so
// that even early errors name their rank in multi-rank jobs.
void adopt_launcher_rank() {
  for (const char* variable : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"}) {
    const char* value = std::getenv(variable);
    const char* size = std::getenv("OMPI_COMM_WORLD_SIZE") ? std::getenv("OMPI_COMM_WORLD_SIZE")
                                                            : std::getenv("SLURM_NTASKS");
    if (value != nullptr && size != nullptr && std::atoi(size) > 1) {
      diffuse::set_process_rank(std::atoi(value));
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  adopt_launcher_rank();
  CLI::App app{"diffuse: distributed training, distillation, sampling and evaluation of image diffusion models"};
  app.require_subcommand(1);
  diffuse::cli::add_info_command(app);
  diffuse::cli::add_prepare_command(app);
  diffuse::cli::add_train_command(app);
  diffuse::cli::add_sample_command(app);
  diffuse::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const diffuse::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
