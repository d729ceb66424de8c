// Where a step's time goes, op by op: while enabled, every call through
// core/ops.h (validation and the backend's work) adds its wall time to its
// op's total. Off by default; the check costs one relaxed atomic load per op.
// Device work that runs asynchronously (CUDA) is timed as its launch only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace diffuse {

struct OpTime {
  std::string op;  // e.g. "conv2d_forward"
  double seconds = 0.0;
  int64_t calls = 0;
};

void set_op_profiling(bool enabled);
bool op_profiling();
void record_op_time(const char* op, double seconds);
// The totals since the last reset, longest first.
std::vector<OpTime> op_profile();
void reset_op_profile();

}  // namespace diffuse
