// Helpers for tests that run as MPI ranks (see mpi_gtest_main.cpp).
#pragma once

#include "distributed/communicator_mpi.h"

namespace diffuse {

// The communicator over all ranks of the test job.
MpiCommunicator& test_world();

}  // namespace diffuse
