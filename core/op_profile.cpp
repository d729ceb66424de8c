#include "core/op_profile.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

namespace diffuse {

namespace {

std::atomic<bool> profiling{false};
std::mutex totals_mutex;
std::map<std::string, OpTime>& totals() {
  static std::map<std::string, OpTime> by_op;
  return by_op;
}

}  // namespace

void set_op_profiling(bool enabled) { profiling.store(enabled, std::memory_order_relaxed); }

bool op_profiling() { return profiling.load(std::memory_order_relaxed); }

void record_op_time(const char* op, double seconds) {
  const std::lock_guard<std::mutex> lock(totals_mutex);
  OpTime& total = totals()[op];
  total.op = op;
  total.seconds += seconds;
  ++total.calls;
}

std::vector<OpTime> op_profile() {
  const std::lock_guard<std::mutex> lock(totals_mutex);
  std::vector<OpTime> result;
  for (const auto& [name, total] : totals()) result.push_back(total);
  std::sort(result.begin(), result.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return result;
}

void reset_op_profile() {
  const std::lock_guard<std::mutex> lock(totals_mutex);
  totals().clear();
}

}  // namespace diffuse
