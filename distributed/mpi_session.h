// MpiSession: MPI for the lifetime of main(), started only when an MPI
// launcher (mpirun, srun, mpiexec) started this process, so that a plain
// `diffuse train` stays a plain process. Commands then pick their
// communicator with make_world_communicator() (distributed/communicator.h).
#pragma once

#include <chrono>

#if DIFFUSE_HAS_MPI
#include <mpi.h>
#endif

namespace diffuse::cli {

// Whether the environment says an MPI launcher started this process:
// OMPI_COMM_WORLD_SIZE (Open MPI), PMI_SIZE (MPICH, srun --mpi=pmi2),
// PMIX_RANK (srun --mpi=pmix, PRRTE), or an srun step of several tasks.
bool launched_by_mpi();

// Every rank ends at one meeting point (a barrier polled against a limit),
// whether it ends with success or with an error, and only then finalizes.
class MpiSession {
 public:
  MpiSession() = default;
  ~MpiSession();  // waits for every rank to end, then MPI_Finalize, when started
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  // Initialises MPI when launched_by_mpi(); checks that MPI sees as many ranks
  // as the launcher started (an srun without MPI support starts N lone copies).
  void start(int& argc, char**& argv);

  // After a fatal error has been printed: returns the exit status 1 once every
  // rank has ended too (they failed together, e.g. a bad config, or the others
  // had finished), or ends the whole job with MPI_Abort when the others do not
  // follow within a few seconds, so that they do not wait for this rank until a timeout.
  int end_after_error();

 private:
  // Whether every rank reached the meeting point within `limit`.
  bool meet_at_exit(std::chrono::steady_clock::duration limit);

  bool started_ = false;
  bool met_ = false;
#if DIFFUSE_HAS_MPI
  MPI_Comm error_comm_ = MPI_COMM_NULL;  // where failing ranks meet in end_after_error()
#endif
};

}  // namespace diffuse::cli
