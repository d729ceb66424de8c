// Where a step's time goes, op by op: while enabled, every call through
// core/ops.h (validation and the backend's work) adds its time to its op's
// total. Off by default; the check costs one relaxed atomic load per op.
//
// CPU ops are timed on the host clock. GPU ops run asynchronously, so the host
// would time only their launch: they are timed on the device instead, between
// two marks (CUDA events) recorded on the op's stream before and after the
// call. Their times reach the totals when the profile is settled
// (settle_op_profile, or reading it), after one wait for the device.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace diffuse {

struct OpTime {
  std::string op;  // e.g. "conv2d_forward"
  double seconds = 0.0;
  int64_t calls = 0;
};

void set_op_profiling(bool enabled);
bool op_profiling();
void record_op_time(const char* op, double seconds);
// Adds the device-timed ops so far to the totals (one wait for each device that has any) and frees their marks
// for reuse. Call it between steps, while no op is running: a mark freed mid-op would be reused.
void settle_op_profile();
// The totals since the last reset, settled, longest first.
std::vector<OpTime> op_profile();
// Forgets the totals and any unsettled device-timed ops.
void reset_op_profile();

// An op family's time: "conv2d" has conv2d_forward's as forward, conv2d_backward's as backward; ops without either
// suffix (adamw_update, fill_normal) are families of their own, with their time as other.
struct FamilyTime {
  std::string family;
  double forward = 0.0, backward = 0.0, other = 0.0;
  double total() const { return forward + backward + other; }
};
// The families of `times`, longest first.
std::vector<FamilyTime> family_times(const std::vector<OpTime>& times);

// Marks points in a device's stream of work and measures the device time between them.
class DeviceClock {
 public:
  virtual ~DeviceClock() = default;
  // A mark recorded now, in order with the device's work; returns its id.
  virtual int64_t mark() = 0;
  // Blocks until the device has passed every mark made so far.
  virtual void wait() = 0;
  // Seconds between two marks the device has passed.
  virtual double seconds_between(int64_t start, int64_t end) = 0;
  // Makes every mark reusable: later ids may repeat earlier ones.
  virtual void recycle() = 0;
};

// The device-timed op calls not yet added to the totals: each op's start and end marks.
class DeviceOpSpans {
 public:
  void add(const char* op, int64_t start_mark, int64_t end_mark);
  bool empty() const { return spans_.empty(); }
  // Adds each span's time between its marks, as `clock` measures it, to its op's entry in `totals`, and
  // forgets the spans. The device must have passed every mark (DeviceClock::wait).
  void resolve(DeviceClock& clock, std::map<std::string, OpTime>& totals);

 private:
  struct Span {
    const char* op;
    int64_t start, end;
  };
  std::vector<Span> spans_;
};

// Times one op call from construction to destruction: on the host clock when `clock` is null, else between two
// marks of `clock`, settled later.
class OpTimer {
 public:
  OpTimer(const char* op, DeviceClock* clock);
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  const char* op_;
  DeviceClock* clock_;
  int64_t start_mark_ = 0;
  double start_seconds_ = 0.0;
};

// The clock ops on `device` are timed with: null (the host clock) for the CPU, CUDA events on the GPU.
DeviceClock* device_clock(Device device);

}  // namespace diffuse
