// MPI_CHECK: the check macro for MPI calls. Communicators must use
// MPI_ERRORS_RETURN for a failed call to reach it instead of aborting.
#pragma once

#include <mpi.h>

#include "core/error.h"

namespace diffuse::checks {
inline bool mpi_ok(int status) { return status == MPI_SUCCESS; }
inline std::string mpi_describe(int status) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(status, text, &length) != MPI_SUCCESS) return concat("MPI error code ", status);
  return std::string(text, static_cast<size_t>(length));
}
}  // namespace diffuse::checks

#define MPI_CHECK(statement) \
  DIFFUSE_CHECK_CALL("MPI", statement, ::diffuse::checks::mpi_ok, ::diffuse::checks::mpi_describe)
