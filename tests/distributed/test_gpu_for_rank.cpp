// The GPU each rank takes, with the visible device count given: one GPU per
// rank, every GPU visible to every rank, and the layouts that are neither.
#include <gtest/gtest.h>

#include <string>

#include "distributed/gpu_for_rank.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(GpuForRank, ARankThatSeesOneGpuUsesIt) {
  // srun --gpus-per-task=1: four ranks on the node, each sees only its own GPU.
  for (int local_rank = 0; local_rank < 4; ++local_rank) EXPECT_EQ(gpu_for_rank(1, local_rank, 4), 0);
  EXPECT_EQ(gpu_for_rank(1, 0, 1), 0);
}

TEST(GpuForRank, RanksThatSeeTheWholeNodeTakeTheirLocalRank) {
  for (int local_rank = 0; local_rank < 4; ++local_rank) EXPECT_EQ(gpu_for_rank(4, local_rank, 4), local_rank);
  // Fewer ranks than GPUs: the spare ones stay idle.
  EXPECT_EQ(gpu_for_rank(8, 1, 2), 1);
  EXPECT_EQ(gpu_for_rank(8, 0, 1), 0);
}

TEST(GpuForRank, SomeButNotAllOfTheRanksGpusIsAnError) {
  // Four ranks, each seeing two GPUs: neither one each nor all of them.
  const std::string message = testing::error_message([] { gpu_for_rank(2, 3, 4); });
  EXPECT_TRUE(contains(message, "4 ranks run on this node and each sees 2 GPUs")) << message;
  EXPECT_TRUE(contains(message, "--gpus-per-task=1")) << message;
  EXPECT_TRUE(contains(message, "at most one rank per GPU")) << message;
  // The same for every rank, so that they all stop rather than some sharing a GPU.
  EXPECT_FALSE(testing::error_message([] { gpu_for_rank(2, 0, 4); }).empty());
}

TEST(GpuForRank, NoGpuOrNoPlaceOnTheNodeIsAnError) {
  EXPECT_TRUE(
      contains(testing::error_message([] { gpu_for_rank(0, 1, 2); }), "local rank 1 of 2 on this node sees no GPU"));
  EXPECT_TRUE(contains(testing::error_message([] { gpu_for_rank(4, 4, 4); }), "local rank 4 of 4 is not a place"));
}

}  // namespace
}  // namespace diffuse
