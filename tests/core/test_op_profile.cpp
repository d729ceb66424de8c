// The op profile (core/op_profile.h): off by default, and while on it counts
// every op call under the op's name.
#include <gtest/gtest.h>

#include "core/op_profile.h"
#include "core/ops.h"

namespace diffuse {
namespace {

int64_t calls_of(const std::string& op) {
  for (const OpTime& time : op_profile())
    if (time.op == op) return time.calls;
  return 0;
}

TEST(OpProfile, CountsCallsOnlyWhileEnabled) {
  const Tensor x = Tensor::zeros({4, 8});
  const Tensor y = Tensor::empty({4, 8});
  reset_op_profile();
  ops::silu_forward(x, y);
  EXPECT_EQ(calls_of("silu_forward"), 0) << "profiling is off by default";

  set_op_profiling(true);
  ops::silu_forward(x, y);
  ops::silu_forward(x, y);
  ops::scale(x, 2.0f, y);
  set_op_profiling(false);
  ops::silu_forward(x, y);

  EXPECT_EQ(calls_of("silu_forward"), 2);
  EXPECT_EQ(calls_of("scale"), 1);
  for (const OpTime& time : op_profile()) EXPECT_GE(time.seconds, 0.0) << time.op;
  reset_op_profile();
  EXPECT_TRUE(op_profile().empty());
}

}  // namespace
}  // namespace diffuse
