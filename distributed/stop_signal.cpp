// Stop signals are blocked on the thread that owns the scope (and so on every
// thread it starts) and taken synchronously, with sigtimedwait, when the loop
// asks at a step boundary. A signal handler then never interrupts a
// computation: stop signals handled asynchronously corrupted the heap in about
// one two-rank run in four (detected in oneDNN's sgemm), and never once since.
// The handlers stay installed for threads that were started before the scope
// and do not block the signals; they only record the signal.
#include "distributed/stop_signal.h"

#include <pthread.h>

#include <csignal>
#include <ctime>
#include <iterator>

namespace diffuse {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
constexpr int kStopSignals[] = {SIGTERM, SIGUSR1, SIGINT};
struct sigaction g_previous[std::size(kStopSignals)];

// The second request ends the process at once (the signal's default action).
void stop_now(int signal) {
  std::signal(signal, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  std::raise(signal);
}

extern "C" void record_stop_signal(int signal) {
  if (g_stop_signal != 0) {
    stop_now(signal);
    return;
  }
  g_stop_signal = signal;
}

// The next stop signal pending for this thread or the process, taken without waiting; 0 when none is.
int take_pending_signal() {
  const sigset_t set = stop_signal_set();
  const timespec no_wait{0, 0};
  const int signal = sigtimedwait(&set, nullptr, &no_wait);
  return signal > 0 ? signal : 0;
}

}  // namespace

StopSignalScope::StopSignalScope() {
  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // file writes and sleeps carry on; the loop checks the flag
  for (size_t i = 0; i < std::size(kStopSignals); ++i) sigaction(kStopSignals[i], &action, &g_previous[i]);
}

StopSignalScope::~StopSignalScope() {
  // A signal still pending is taken here, so that blocked_ unblocking cannot deliver it to the restored handlers.
  while (take_pending_signal() != 0) {
  }
  for (size_t i = 0; i < std::size(kStopSignals); ++i) sigaction(kStopSignals[i], &g_previous[i], nullptr);
  g_stop_signal = 0;
}

int stop_signal() {
  for (int signal; (signal = take_pending_signal()) != 0;) record_stop_signal(signal);
  // Once a stop is under way, a second signal must end the process at once (a second Ctrl-C), not wait for the
  // next step boundary: the handler, which then only ends the process, may interrupt this thread from now on.
  if (g_stop_signal != 0) {
    const sigset_t set = stop_signal_set();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  }
  return g_stop_signal;
}

const char* stop_signal_name(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGINT:
      return "SIGINT";
    default:
      return "a stop signal";
  }
}

}  // namespace diffuse
