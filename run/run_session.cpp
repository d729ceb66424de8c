#include "run/run_session.h"

#include <utility>

#include "run/precision.h"

namespace diffuse {

namespace {

Config with_runtime(const RuntimeConfig& runtime) {
  Config config;
  config.runtime = runtime;
  return config;
}

}  // namespace

RunSession::RunSession(const std::string& config_path, const std::vector<std::string>& overrides, SessionKind kind)
    : RunSession(load_config(config_path, overrides), "runtime.device", kind) {
  // Before anything is written: a precision this device cannot compute in is a config error.
  if (kind == SessionKind::kTraining) require_precision_available(config_.train.precision, device(), config_path);
}

RunSession::RunSession(const RuntimeConfig& runtime, const std::string& device_setting, SessionKind kind)
    : RunSession(with_runtime(runtime), device_setting, kind) {}

RunSession::RunSession(Config config, const std::string& device_setting, SessionKind kind)
    : config_(std::move(config)) {
  const RuntimeConfig& runtime = config_.runtime;
  // Resolved before the communicator, whose kind follows it; which GPU a rank takes then depends on its place on
  // the node, which only the communicator knows.
  const Device device = resolve_device(runtime.device, device_setting);
  communicator_ =
      make_world_communicator(kind == SessionKind::kTraining ? device : Device::CPU, runtime.collective_timeout_s);
  device_ =
      use_device(device, runtime.device, device_setting, communicator_->local_rank(), communicator_->local_size());
  threads_ = choose_thread_count(runtime.threads, communicator_->local_size());
  use_threads(threads_);
  if (kind == SessionKind::kTraining) stop_signals_.emplace();
}

}  // namespace diffuse
