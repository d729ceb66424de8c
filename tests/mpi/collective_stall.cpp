// A job in which rank 1 never reaches a collective, for test_timeout.sh:
//   collective_stall stall|exit TIMEOUT_S
// Every rank meets at a barrier; then rank 1 stalls (sleeps) or exits early
// (finalizes and returns 0) while the others all-reduce. They must end with the
// watchdog's message and the CLI's error path (print, then end the job)
// instead of hanging.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "distributed/communicator_mpi.h"
#include "distributed/mpi_session.h"

int main(int argc, char** argv) {
  diffuse::cli::MpiSession mpi;
  try {
    mpi.start(argc, argv);
    DIFFUSE_CHECK(argc == 3, "usage: collective_stall stall|exit TIMEOUT_S");
    const std::string mode = argv[1];
    diffuse::MpiCommunicator world(MPI_COMM_WORLD, std::atof(argv[2]));
    world.barrier();
    if (world.rank() == 1) {
      if (mode == "exit") return 0;
      if (mode == "crash") std::_Exit(0);
      sleep(600);
      return 3;
    }
    const diffuse::Tensor buffer = diffuse::Tensor::zeros({1000});
    world.all_reduce_sum(buffer);
    std::fprintf(stderr, "unexpected: the all-reduce completed without rank 1\n");
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return mpi.end_after_error();
  }
}
