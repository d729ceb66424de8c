// CollectiveWatchdog: turns a collective that never completes into an Error,
// on every rank that can still hear about it, naming the operation and the
// ranks that did not arrive (instead of a job that hangs until its time limit).
//
// Protocol (MPI point-to-point on a private duplicate of the communicator):
//  - every rank numbers the collectives it enters (the numbers agree, since all
//    ranks call the same collectives in the same order) and announces each one
//    to rank 0 with a one-number non-blocking message;
//  - rank 0, once a collective it waits for is older than the timeout, compares
//    the announcements with that number, sends the verdict ("rank 2 did not
//    arrive") to every other rank and throws it;
//  - the other ranks, while they wait, throw rank 0's verdict as soon as it
//    comes; if rank 0 stays silent for twice the timeout (rank 0 is the one that
//    stalled), they throw their own error naming rank 0.
// The caller then ends the job (the CLI prints the error and calls MPI_Abort).
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace diffuse {

class CollectiveWatchdog {
 public:
  struct Collective {
    int64_t sequence = 0;
    std::string description;  // "all_reduce of 1024 floats"
    std::chrono::steady_clock::time_point started;
  };

  // Duplicates `comm` for its own messages (with MPI_ERRORS_RETURN).
  CollectiveWatchdog(MPI_Comm comm, double timeout_seconds);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Announces the next collective; call on entry, before starting it.
  Collective arrive(std::string description);
  // Call repeatedly while waiting for `collective`: throws an Error as described above.
  void check(const Collective& collective);

  double timeout_seconds() const { return timeout_seconds_; }

 private:
  struct Announcement {
    int64_t sequence = 0;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  void reap_sent();
  void drain_announcements();
  [[noreturn]] void fail_as_root(const Collective& collective);
  void throw_verdict_if_any();

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  double timeout_seconds_;
  int64_t next_sequence_ = 0;
  std::deque<std::unique_ptr<Announcement>> sent_;  // rank > 0: announcements in flight
  std::vector<int64_t> last_arrived_;               // rank 0: newest announced sequence per rank
  std::chrono::steady_clock::time_point last_check_;
  std::string verdict_;  // rank 0: the failure it sent to every rank
};

}  // namespace diffuse
