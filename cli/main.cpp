// The `diffuse` command line: one binary, one subcommand per job. Every
// failure ends with one readable "error: ..." line and exit status 1 (under
// an MPI launcher, on each failing rank, and the job ends: see MpiSession);
// a bad flag exits with CLI11's status for it (non-zero, 100 or more).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <new>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "distributed/mpi_session.h"

int main(int argc, char** argv) {
  diffuse::cli::MpiSession mpi;
  CLI::App app{"diffuse: distributed training, distillation, sampling and evaluation of image diffusion models"};
  app.require_subcommand(1);
  // Bad flags too end in one "error:" line, as every other failure does.
  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return std::string("error: ") + error.what() + " (see --help)\n";
  });
  diffuse::cli::add_info_command(app);
  diffuse::cli::add_prepare_command(app);
  diffuse::cli::add_train_command(app);
  diffuse::cli::add_distill_command(app);
  diffuse::cli::add_sample_command(app);
  diffuse::cli::add_bench_command(app);
  diffuse::cli::add_eval_command(app);
  diffuse::cli::add_train_classifier_command(app);
  diffuse::cli::add_export_command(app);
  diffuse::cli::add_import_command(app);
  try {
    mpi.start(argc, argv);
    app.parse(argc, argv);
    diffuse::throw_deferred_fault();  // a GPU fault while the command released its tensors and streams
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const diffuse::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return mpi.end_after_error();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "error: out of memory (a size in the configuration or on the command line may be too large)\n");
    return mpi.end_after_error();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return mpi.end_after_error();
  }
  return 0;
}
