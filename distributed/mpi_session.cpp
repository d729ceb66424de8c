// MpiSession: launcher detection, MPI start-up and shutdown, ending a job after an error.
#include "distributed/mpi_session.h"

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"

#if DIFFUSE_HAS_MPI
#include "distributed/checks_mpi.h"
#include "distributed/stop_signal_mask.h"
#endif

namespace diffuse::cli {

namespace {

int environment_int(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atoi(value) : 0;
}

// The rank count the launcher announced (0 when it did not say).
int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"})
    if (const int size = environment_int(name); size > 0) return size;
  return 0;
}

}  // namespace

bool launched_by_mpi() {
  // SLURM_NTASKS alone is also set in a batch script's own shell, which is not
  // an MPI launch; SLURM_STEP_NUM_TASKS is set only inside an srun step.
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr || environment_int("SLURM_STEP_NUM_TASKS") > 1;
}

#if DIFFUSE_HAS_MPI

// How long a failing rank waits for the others to end too before it aborts the job.
constexpr auto kErrorGrace = std::chrono::seconds(3);

void MpiSession::start(int& argc, char**& argv) {
  if (!launched_by_mpi()) return;
  int provided = 0;
  {
    const StopSignalsBlocked blocked;  // MPI's own threads start here and keep the block
    // The main thread and a communicator's progress thread call MPI, never at the same time.
    MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided));
  }
  started_ = true;
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  int rank = 0, size = 1;
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  if (size > 1) set_process_rank(rank);
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &error_comm_));
  MPI_CHECK(MPI_Comm_set_errhandler(error_comm_, MPI_ERRORS_RETURN));
  const int expected = launcher_size();
  DIFFUSE_CHECK(expected <= 1 || size == expected, "the launcher started ", expected, " tasks but MPI sees ", size,
                " rank(s): each task runs alone (with srun, pass --mpi=pmix or the MPI plugin your cluster uses)");
}

// Runs on the way out (a destructor, an error already reported): MPI failures
// are answered by returning false, never by throwing.
bool MpiSession::meet_at_exit(std::chrono::steady_clock::duration limit) {
  if (met_ || error_comm_ == MPI_COMM_NULL) return true;
  MPI_Request request = MPI_REQUEST_NULL;
  if (MPI_Ibarrier(error_comm_, &request) != MPI_SUCCESS) return false;
  const auto give_up = std::chrono::steady_clock::now() + limit;
  int met = 0;
  while (!met && std::chrono::steady_clock::now() < give_up) {
    if (MPI_Test(&request, &met, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
    if (!met) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  met_ = met != 0;
  return met_;
}

MpiSession::~MpiSession() {
  if (!started_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  // Wait for every rank, however long: a rank that finalized early while the
  // others still work would turn their later error into a launcher failure.
  meet_at_exit(std::chrono::steady_clock::duration::max() / 2);
  if (error_comm_ != MPI_COMM_NULL) MPI_Comm_free(&error_comm_);
  MPI_Finalize();
}

int MpiSession::end_after_error() {
  if (started_ && !meet_at_exit(kErrorGrace)) MPI_Abort(MPI_COMM_WORLD, 1);
  return 1;  // the destructor finalizes
}

#else

void MpiSession::start(int&, char**&) {
  DIFFUSE_CHECK(launcher_size() <= 1, "the launcher started ", launcher_size(),
                " ranks, but this build has no MPI (configured with DIFFUSE_MPI=OFF or without MPI found)");
}

MpiSession::~MpiSession() = default;

int MpiSession::end_after_error() { return 1; }

#endif

}  // namespace diffuse::cli
