// The op profile (core/op_profile.h): off by default, and while on it counts
// every op call under the op's name; device-timed ops are accounted from their
// marks (a fake device clock with set timestamps stands in for CUDA events).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

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

// Marks are timestamps the test sets by advancing `now`; like CUDA events they are only readable after wait().
class FakeDeviceClock final : public DeviceClock {
 public:
  double now = 0.0;
  int waits = 0;
  bool passed = false;  // every mark so far has been waited for

  int64_t mark() override {
    times_.push_back(now);
    passed = false;
    return static_cast<int64_t>(times_.size()) - 1;
  }
  void wait() override {
    ++waits;
    passed = true;
  }
  double seconds_between(int64_t start, int64_t end) override {
    EXPECT_TRUE(passed) << "a mark was read before the device passed it";
    return times_.at(end) - times_.at(start);
  }
  void recycle() override { times_.clear(); }
  size_t marks_in_use() const { return times_.size(); }

 private:
  std::vector<double> times_;
};

TEST(OpProfile, DeviceSpansAddTheTimeBetweenTheirMarksPerOp) {
  FakeDeviceClock clock;
  DeviceOpSpans spans;
  const int64_t a = clock.mark();
  clock.now = 0.25;
  const int64_t b = clock.mark();
  clock.now = 1.0;
  const int64_t c = clock.mark();
  clock.now = 1.5;
  const int64_t d = clock.mark();
  spans.add("conv2d_forward", a, b);
  spans.add("silu_forward", b, c);
  spans.add("conv2d_forward", c, d);
  clock.wait();

  std::map<std::string, OpTime> totals;
  totals["silu_forward"] = OpTime{"silu_forward", 2.0, 3};  // resolving adds to what is there
  spans.resolve(clock, totals);
  EXPECT_TRUE(spans.empty());
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_DOUBLE_EQ(totals["conv2d_forward"].seconds, 0.25 + 0.5);
  EXPECT_EQ(totals["conv2d_forward"].calls, 2);
  EXPECT_EQ(totals["conv2d_forward"].op, "conv2d_forward");
  EXPECT_DOUBLE_EQ(totals["silu_forward"].seconds, 2.75);
  EXPECT_EQ(totals["silu_forward"].calls, 4);
}

TEST(OpProfile, DeviceTimedOpsCountTheirDeviceTimeOnceSettledWithOneWait) {
  FakeDeviceClock clock;
  reset_op_profile();
  for (int call = 0; call < 3; ++call) {
    const OpTimer timer("group_norm_forward", &clock);
    clock.now += 0.125;  // the device runs the op for 0.125 s, whatever the host's clock says
  }
  {
    const OpTimer timer("attention_forward", &clock);
    clock.now += 2.0;
  }
  EXPECT_EQ(clock.marks_in_use(), 8u);
  settle_op_profile();
  EXPECT_EQ(clock.waits, 1) << "one wait per settle, not one per op";
  EXPECT_EQ(clock.marks_in_use(), 0u) << "settled marks are reused";

  const std::vector<OpTime> profile = op_profile();
  ASSERT_EQ(profile.size(), 2u);
  EXPECT_EQ(profile[0].op, "attention_forward");
  EXPECT_DOUBLE_EQ(profile[0].seconds, 2.0);
  EXPECT_EQ(profile[1].op, "group_norm_forward");
  EXPECT_DOUBLE_EQ(profile[1].seconds, 0.375);
  EXPECT_EQ(profile[1].calls, 3);
  EXPECT_EQ(clock.waits, 1) << "nothing left to settle";
  reset_op_profile();
}

// From device marks to the table bench --profile prints: each family's forward, backward and other time.
TEST(OpProfile, DeviceTimesAddUpPerFamily) {
  FakeDeviceClock clock;
  reset_op_profile();
  const auto run = [&](const char* op, double seconds) {
    const OpTimer timer(op, &clock);
    clock.now += seconds;
  };
  run("conv2d_forward", 0.5);
  run("group_norm_forward", 0.125);
  run("conv2d_forward", 0.5);
  run("conv2d_backward", 2.0);
  run("adamw_update", 0.25);
  const std::vector<FamilyTime> families = family_times(op_profile());
  reset_op_profile();

  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].family, "conv2d");
  EXPECT_DOUBLE_EQ(families[0].forward, 1.0);
  EXPECT_DOUBLE_EQ(families[0].backward, 2.0);
  EXPECT_DOUBLE_EQ(families[0].other, 0.0);
  EXPECT_EQ(families[1].family, "adamw_update");
  EXPECT_DOUBLE_EQ(families[1].other, 0.25);
  EXPECT_EQ(families[2].family, "group_norm");
  EXPECT_DOUBLE_EQ(families[2].forward, 0.125);
  EXPECT_DOUBLE_EQ(families[2].total(), 0.125);
}

// Casts left in a mixed-precision step show up in bench --profile as a family of their own, not inside another op's.
TEST(OpProfile, CastsAreAFamilyOfTheirOwn) {
  const Tensor source = Tensor::zeros({4, 8});
  const Tensor narrow = Tensor::empty({4, 8}, DType::BF16);
  reset_op_profile();
  set_op_profiling(true);
  ops::cast(source, narrow);
  ops::cast(narrow, source);
  ops::scale(source, 2.0f, Tensor::empty({4, 8}));
  set_op_profiling(false);
  EXPECT_EQ(calls_of("cast"), 2);
  const std::vector<FamilyTime> families = family_times(op_profile());
  reset_op_profile();

  ASSERT_EQ(families.size(), 2u);
  const auto cast =
      std::find_if(families.begin(), families.end(), [](const FamilyTime& f) { return f.family == "cast"; });
  ASSERT_NE(cast, families.end());
  EXPECT_EQ(cast->forward, 0.0);
  EXPECT_EQ(cast->backward, 0.0);
  EXPECT_GE(cast->other, 0.0);
}

TEST(OpProfile, ResetForgetsUnsettledDeviceTimes) {
  FakeDeviceClock clock;
  reset_op_profile();
  {
    const OpTimer timer("conv2d_backward", &clock);
    clock.now += 1.0;
  }
  reset_op_profile();
  EXPECT_EQ(clock.marks_in_use(), 0u);
  EXPECT_TRUE(op_profile().empty());
  EXPECT_EQ(clock.waits, 0);
}

TEST(OpProfile, CpuOpsAreTimedOnTheHostClock) { EXPECT_EQ(device_clock(Device::CPU), nullptr); }

}  // namespace
}  // namespace diffuse
