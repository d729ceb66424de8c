#include "core/op_profile.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include "core/error.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/event_clock.h"
#endif

namespace diffuse {

namespace {

std::atomic<bool> profiling{false};
// Guards the totals and the unsettled spans of every clock.
std::mutex profile_mutex;
std::map<std::string, OpTime>& totals() {
  static std::map<std::string, OpTime> by_op;
  return by_op;
}
// Only clocks with unsettled spans are listed.
std::map<DeviceClock*, DeviceOpSpans>& unsettled() {
  static std::map<DeviceClock*, DeviceOpSpans> by_clock;
  return by_clock;
}

void add_time(std::map<std::string, OpTime>& to, const char* op, double seconds) {
  OpTime& total = to[op];
  total.op = op;
  total.seconds += seconds;
  ++total.calls;
}

bool strip_suffix(std::string& name, const std::string& suffix) {
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  name.resize(name.size() - suffix.size());
  return true;
}

double host_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void set_op_profiling(bool enabled) { profiling.store(enabled, std::memory_order_relaxed); }

bool op_profiling() { return profiling.load(std::memory_order_relaxed); }

void record_op_time(const char* op, double seconds) {
  const std::lock_guard<std::mutex> lock(profile_mutex);
  add_time(totals(), op, seconds);
}

void DeviceOpSpans::add(const char* op, int64_t start_mark, int64_t end_mark) {
  spans_.push_back({op, start_mark, end_mark});
}

void DeviceOpSpans::resolve(DeviceClock& clock, std::map<std::string, OpTime>& to) {
  for (const Span& span : spans_) add_time(to, span.op, clock.seconds_between(span.start, span.end));
  spans_.clear();
}

void settle_op_profile() {
  const std::lock_guard<std::mutex> lock(profile_mutex);
  for (auto& [clock, spans] : unsettled()) {
    clock->wait();
    spans.resolve(*clock, totals());
    clock->recycle();
  }
  unsettled().clear();
}

std::vector<OpTime> op_profile() {
  settle_op_profile();
  const std::lock_guard<std::mutex> lock(profile_mutex);
  std::vector<OpTime> result;
  for (const auto& [name, total] : totals()) result.push_back(total);
  std::sort(result.begin(), result.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return result;
}

void reset_op_profile() {
  const std::lock_guard<std::mutex> lock(profile_mutex);
  totals().clear();
  for (auto& [clock, spans] : unsettled()) clock->recycle();
  unsettled().clear();
}

std::vector<FamilyTime> family_times(const std::vector<OpTime>& times) {
  std::map<std::string, FamilyTime> families;
  for (const OpTime& time : times) {
    std::string family = time.op;
    if (strip_suffix(family, "_forward")) {
      families[family].forward += time.seconds;
    } else if (strip_suffix(family, "_backward")) {
      families[family].backward += time.seconds;
    } else {
      families[family].other += time.seconds;
    }
    families[family].family = family;
  }
  std::vector<FamilyTime> rows;
  for (const auto& [name, family] : families) rows.push_back(family);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const FamilyTime& a, const FamilyTime& b) { return a.total() > b.total(); });
  return rows;
}

OpTimer::OpTimer(const char* op, DeviceClock* clock) : op_(op), clock_(clock) {
  if (clock_ != nullptr) {
    const std::lock_guard<std::mutex> lock(profile_mutex);
    start_mark_ = clock_->mark();
  } else {
    start_seconds_ = host_seconds();
  }
}

// A failing end mark (the GPU broke during the op) is reported at the next checked point: a destructor must not throw.
OpTimer::~OpTimer() {
  defer_failures([&] {
    if (clock_ == nullptr) {
      record_op_time(op_, host_seconds() - start_seconds_);
      return;
    }
    const std::lock_guard<std::mutex> lock(profile_mutex);
    unsettled()[clock_].add(op_, start_mark_, clock_->mark());
  });
}

DeviceClock* device_clock(Device device) {
#if DIFFUSE_HAS_CUDA
  if (device == Device::CUDA) return &cuda::event_clock();
#else
  (void)device;
#endif
  return nullptr;
}

}  // namespace diffuse
