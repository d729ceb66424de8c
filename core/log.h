// Logging: one line per message on stderr, prefixed with the rank when the
// process is part of a multi-rank job, so interleaved output stays readable.
#pragma once

#include "core/error.h"

namespace diffuse {

enum class LogLevel { Debug, Info, Warning, Error };

void set_log_level(LogLevel level);
void log_message(LogLevel level, const std::string& message);

template <typename... Parts>
void log_info(const Parts&... parts) {
  log_message(LogLevel::Info, concat(parts...));
}
template <typename... Parts>
void log_warning(const Parts&... parts) {
  log_message(LogLevel::Warning, concat(parts...));
}
template <typename... Parts>
void log_error(const Parts&... parts) {
  log_message(LogLevel::Error, concat(parts...));
}
template <typename... Parts>
void log_debug(const Parts&... parts) {
  log_message(LogLevel::Debug, concat(parts...));
}

// The prefix a log line starts with, e.g. "[rank 1] warning: ".
std::string log_prefix(LogLevel level);

}  // namespace diffuse
