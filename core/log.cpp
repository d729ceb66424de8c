#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace diffuse {

namespace {
std::atomic<LogLevel> g_level{LogLevel::Info};
std::mutex g_mutex;

const char* level_tag(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug: ";
    case LogLevel::Info:
      return "";
    case LogLevel::Warning:
      return "warning: ";
    case LogLevel::Error:
      return "error: ";
  }
  return "";
}
}  // namespace

void set_log_level(LogLevel level) { g_level.store(level); }

std::string log_prefix(LogLevel level) {
  const int rank = process_rank();
  std::string prefix = rank >= 0 ? concat("[rank ", rank, "] ") : std::string();
  return prefix + level_tag(level);
}

void log_message(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) < static_cast<int>(g_level.load())) return;
  const std::string line = log_prefix(level) + message + "\n";
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace diffuse
