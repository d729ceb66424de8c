// What a command that computes sets up first, once, and keeps for its
// lifetime: its config, the world communicator (MPI when started by an MPI
// launcher), the device it computes on (runtime.device or a --device flag,
// resolved here and nowhere else), the CPU thread count, and for training the
// stop signals that end a run cleanly at a step boundary
// (distributed/stop_signal.h). train, distill, bench train, eval and
// train-classifier start through it; each logs the choices in its own words.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/stop_signal.h"
#include "run/config.h"
#include "run/device_choice.h"
#include "run/thread_count.h"

namespace diffuse {

enum class SessionKind {
  // train, distill: collectives carry buffers on the compute device (NCCL on a GPU), and SIGTERM or SIGUSR1 stop
  // the run at the next step boundary.
  kTraining,
  // bench, eval, train-classifier: collectives carry host buffers, and signals keep their default action.
  kHostCollectives,
};

class RunSession {
 public:
  // The config file with its "key=value" --set overrides; runtime.device picks the device.
  RunSession(const std::string& config_path, const std::vector<std::string>& overrides, SessionKind kind);
  // A loaded config whose runtime.device comes from `device_setting` ("runtime.device", "--device"), the name
  // errors give it.
  RunSession(Config config, const std::string& device_setting, SessionKind kind);
  // Commands without a config file: the defaults with these runtime settings.
  RunSession(const RuntimeConfig& runtime, const std::string& device_setting, SessionKind kind);
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  const Config& config() const { return config_; }
  Communicator& communicator() { return *communicator_; }
  int rank() const { return communicator_->rank(); }
  Device device() const { return device_.device; }
  const DeviceChoice& device_choice() const { return device_; }
  const ThreadChoice& threads() const { return threads_; }

 private:
  Config config_;
  std::unique_ptr<Communicator> communicator_;
  DeviceChoice device_;
  ThreadChoice threads_;
  std::optional<StopSignalScope> stop_signals_;  // kTraining only
};

}  // namespace diffuse
