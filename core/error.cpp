#include "core/error.h"

#include <atomic>
#include <cstring>
#include <mutex>

namespace diffuse {

namespace {
std::atomic<int> g_rank{-1};

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

std::string rank_prefix() {
  const int rank = g_rank.load();
  return rank >= 0 ? concat("[rank ", rank, "] ") : std::string();
}
// The first fault recorded where nothing may throw; `pending` lets the checks skip the lock.
struct DeferredFault {
  std::mutex mutex;
  std::atomic<bool> pending{false};
  std::string message;
};

DeferredFault& deferred_fault() {
  static DeferredFault* fault = new DeferredFault();  // never destroyed: deleters run during static destruction too
  return *fault;
}
}  // namespace

void defer_fault(const std::string& message) noexcept {
  DeferredFault& fault = deferred_fault();
  const std::lock_guard<std::mutex> lock(fault.mutex);
  if (fault.pending.load()) return;
  try {
    fault.message = message + " (while releasing a resource)";
  } catch (...) {  // out of memory: still fail, with less to say
    fault.message.clear();
  }
  fault.pending.store(true);
}

void throw_deferred_fault() {
  DeferredFault& fault = deferred_fault();
  if (!fault.pending.load()) return;
  std::string message;
  {
    const std::lock_guard<std::mutex> lock(fault.mutex);
    message.swap(fault.message);
    fault.pending.store(false);
  }
  throw Error(message.empty() ? "a fault while releasing a resource (no memory left to describe it)" : message);
}

int process_rank() { return g_rank.load(); }
void set_process_rank(int rank) { g_rank.store(rank); }

void fail(const std::string& message, const char* file, int line) {
  throw Error(concat(rank_prefix(), message, " (", base_name(file), ":", line, ")"));
}

void fail_call(const char* library, const char* statement, const std::string& status, const char* file, int line) {
  throw Error(
      concat(rank_prefix(), library, " error: ", status, " in `", statement, "` (", base_name(file), ":", line, ")"));
}

}  // namespace diffuse
