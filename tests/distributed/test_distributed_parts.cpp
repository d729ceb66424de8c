// The small pieces of distributed training that need no second rank: thread
// counts per rank, stop signals, shard layouts, the single-process
// communicator and the config keys.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "distributed/communicator.h"
#include "distributed/shard_layout.h"
#include "distributed/stop_signal.h"
#include "run/config.h"
#include "run/thread_count.h"

namespace diffuse {
namespace {

TEST(ThreadCount, RanksShareTheMachineUnlessBound) {
  // mpirun -np 2 on two cores, bound to a core each.
  EXPECT_EQ(cores_for_rank(1, 2, 2).threads, 1);
  EXPECT_EQ(cores_for_rank(1, 2, 2).reason, "the 1 CPU(s) this rank is bound to");
  // Unbound: the machine's threads divided among the node's ranks, at least one.
  EXPECT_EQ(cores_for_rank(16, 16, 3).threads, 5);
  EXPECT_EQ(cores_for_rank(16, 16, 3).reason, "16 hardware threads / 3 ranks on this node");
  EXPECT_EQ(cores_for_rank(2, 2, 3).threads, 1);
  EXPECT_EQ(cores_for_rank(8, 8, 1).threads, 8);
  // A launcher that gave each rank 4 of 16 CPUs (--map-by slot:PE=4).
  EXPECT_EQ(cores_for_rank(4, 16, 4).threads, 4);
}

TEST(ThreadCount, ConfiguredThreadsWin) {
  const ThreadChoice choice = choose_thread_count(3, 2);
  EXPECT_EQ(choice.threads, 3);
  EXPECT_EQ(choice.reason, "runtime.threads");
  EXPECT_GE(choose_thread_count(0, 1000).threads, 1);
}

TEST(StopSignal, IsRecordedWhileTheScopeLives) {
  {
    const StopSignalScope scope;
    EXPECT_EQ(stop_signal(), 0);
    std::raise(SIGUSR1);
    EXPECT_EQ(stop_signal(), SIGUSR1);
    EXPECT_STREQ(stop_signal_name(stop_signal()), "SIGUSR1");
  }
  const StopSignalScope again;  // a new scope starts clean
  EXPECT_EQ(stop_signal(), 0);
  std::raise(SIGTERM);
  EXPECT_STREQ(stop_signal_name(stop_signal()), "SIGTERM");
}

TEST(StopSignal, CtrlCStopsLikeSigterm) {
  const StopSignalScope scope;
  std::raise(SIGINT);
  EXPECT_EQ(stop_signal(), SIGINT);
  EXPECT_STREQ(stop_signal_name(SIGINT), "SIGINT");
}

// After the first request, a second one ends the process then and there, not at the next step boundary.
TEST(StopSignalDeathTest, SecondSignalEndsTheProcessAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const StopSignalScope scope;
        std::raise(SIGINT);
        if (stop_signal() != SIGINT) std::exit(2);
        std::raise(SIGINT);
        std::exit(0);  // not reached when the second signal ends the process
      },
      ::testing::KilledBySignal(SIGINT), "");
}

TEST(ShardLayout, CoversTheBufferWithNearlyEqualParts) {
  const ShardLayout layout{10, 3};
  EXPECT_EQ(layout.counts(), (std::vector<int64_t>{3, 3, 4}));
  EXPECT_EQ(layout.begin(0), 0);
  EXPECT_EQ(layout.end(2), 10);
  EXPECT_EQ(layout.begin(1), layout.end(0));
}

TEST(SingleProcessCommunicator, CollectivesAreCopiesOrNothing) {
  SingleProcessCommunicator single;
  const Tensor input = from_vector({1, 2, 3}, {3});
  const Tensor output = Tensor::zeros({3});
  single.all_reduce(input, output, ReduceOp::kAverage);
  EXPECT_EQ(to_vector(output), (std::vector<float>{1, 2, 3}));
  const Tensor shard = Tensor::zeros({3});
  single.wait(single.start_reduce_scatter(input, shard, {3}));
  EXPECT_EQ(to_vector(shard), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(single.all_reduce_sum(2.5), 2.5);
  EXPECT_EQ(make_world_communicator(Device::CPU, 10.0)->size(), 1);  // not started by an MPI launcher
}

TEST(DistributedConfig, KeysHaveDefaultsAndAreChecked) {
  const Config defaults = parse_config("", "test");
  EXPECT_EQ(defaults.train.bucket_mb, 25.0);
  EXPECT_FALSE(defaults.train.shard_optimizer);
  EXPECT_EQ(defaults.runtime.collective_timeout_s, 300.0);
  const Config set =
      parse_config("train:\n  shard_optimizer: true\n  bucket_mb: 0.5\n", "test", {"runtime.collective_timeout_s=5"});
  EXPECT_TRUE(set.train.shard_optimizer);
  EXPECT_EQ(set.train.bucket_mb, 0.5);
  EXPECT_EQ(set.runtime.collective_timeout_s, 5.0);
  try {
    parse_config("runtime:\n  collective_timeout_s: 0\n", "test");
    FAIL() << "a zero timeout must be rejected";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("runtime.collective_timeout_s"), std::string::npos);
  }
}

}  // namespace
}  // namespace diffuse
