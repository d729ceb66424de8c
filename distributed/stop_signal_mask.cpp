#include "distributed/stop_signal_mask.h"

#include <pthread.h>

namespace diffuse {

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGINT);  // Ctrl-C on a plain run stops it like a scheduler's SIGTERM
  return set;
}

StopSignalsBlocked::StopSignalsBlocked() {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, &previous_);
}

StopSignalsBlocked::~StopSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

}  // namespace diffuse
