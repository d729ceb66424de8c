// The stop signals (SIGTERM, SIGUSR1, SIGINT: "stop at the next step boundary",
// distributed/stop_signal.h) belong to the main thread. Helper threads block them,
// so that a stop signal sent to the process (by a scheduler, or forwarded by
// mpirun to every rank) is always taken by the main thread and never
// interrupts a library call on a helper thread: the MPI progress thread, the
// data loader, the threads MPI starts inside MPI_Init and those NCCL starts
// while it sets up a communicator.
#pragma once

#include <csignal>

namespace diffuse {

// {SIGTERM, SIGUSR1, SIGINT}.
sigset_t stop_signal_set();

// Blocks the stop signals on this thread for a scope and then restores the mask: threads started inside the scope
// inherit the block from their first instruction.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked();
  ~StopSignalsBlocked();
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace diffuse
