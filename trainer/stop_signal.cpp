// Stop-signal handlers: async-signal-safe, they only record the signal.
#include "trainer/stop_signal.h"

#include <csignal>

namespace diffuse {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
struct sigaction g_previous_term {};
struct sigaction g_previous_usr1 {};

extern "C" void record_stop_signal(int signal) {
  if (g_stop_signal != 0) {
    // The second request: stop now.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  g_stop_signal = signal;
}

}  // namespace

StopSignalScope::StopSignalScope() {
  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // file writes and sleeps carry on; the loop checks the flag
  sigaction(SIGTERM, &action, &g_previous_term);
  sigaction(SIGUSR1, &action, &g_previous_usr1);
}

StopSignalScope::~StopSignalScope() {
  sigaction(SIGTERM, &g_previous_term, nullptr);
  sigaction(SIGUSR1, &g_previous_usr1, nullptr);
  g_stop_signal = 0;
}

int stop_signal() { return g_stop_signal; }

const char* stop_signal_name(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "a stop signal";
  }
}

}  // namespace diffuse
