// Preemption: while a StopSignalScope lives, SIGTERM, SIGUSR1 and SIGINT (Ctrl-C) only record
// that the job should stop; the training loop asks stop_signal() at each step
// boundary, the ranks agree, rank 0 writes a checkpoint and every rank exits 0.
// The scope's thread (and the threads it starts) take the signals only when
// stop_signal() asks, never in the middle of a computation. Once stop_signal()
// has seen one, a second signal ends the process at once (the default
// action), for when a clean stop is not wanted.
#pragma once

#include "distributed/stop_signal_mask.h"

namespace diffuse {

class StopSignalScope {
 public:
  StopSignalScope();   // blocks the signals here, installs the handlers and clears any earlier signal
  ~StopSignalScope();  // restores the mask and the previous handlers and forgets the signal
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  StopSignalsBlocked blocked_;  // first in, last out: blocked before the handlers change, unblocked after
};

// The stop signal this process received while a scope lives (SIGTERM, SIGUSR1 or SIGINT), or 0. Call it on the
// scope's thread: it takes pending signals.
int stop_signal();
// "SIGTERM", "SIGUSR1", "SIGINT", or "a stop signal".
const char* stop_signal_name(int signal);

}  // namespace diffuse
