// main() for GoogleTest binaries that run as MPI ranks (`mpirun -np N` from
// ctest): every rank runs every test, and the job fails if any rank fails.
// Tests reach the world through test_world() (an MpiCommunicator).
#include <gtest/gtest.h>
#include <mpi.h>

#include <memory>

#include "core/error.h"
#include "distributed/checks_mpi.h"
#include "tests/mpi/mpi_testing.h"

namespace diffuse {

namespace {
std::unique_ptr<MpiCommunicator> g_world;
}  // namespace

MpiCommunicator& test_world() { return *g_world; }

}  // namespace diffuse

int main(int argc, char** argv) {
  int provided = 0;
  MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided));
  int rank = 0;
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  diffuse::set_process_rank(rank);
  ::testing::InitGoogleTest(&argc, argv);
  // Generous: a test that breaks the collective order fails with a message instead of hanging.
  diffuse::g_world = std::make_unique<diffuse::MpiCommunicator>(MPI_COMM_WORLD, 120.0);
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  const double failures = diffuse::g_world->all_reduce_sum(static_cast<double>(failed));
  diffuse::g_world.reset();
  MPI_CHECK(MPI_Finalize());
  return failures > 0 ? 1 : 0;
}
