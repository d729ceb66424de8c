// Epoch permutations, flips and rank slices: deterministic, independent of
// the number of ranks, and different where they should be.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/philox.h"
#include "data/sample_order.h"

namespace diffuse {
namespace {

TEST(SampleOrder, EachEpochIsAPermutation) {
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> order = epoch_permutation(1000, 5, epoch);
    std::sort(order.begin(), order.end());
    std::vector<int64_t> identity(1000);
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(order, identity) << "epoch " << epoch;
  }
  EXPECT_TRUE(epoch_permutation(0, 5, 0).empty());
  EXPECT_EQ(epoch_permutation(1, 5, 0), std::vector<int64_t>{0});
}

TEST(SampleOrder, DeterministicPerSeedAndEpochAndDifferentAcrossThem) {
  EXPECT_EQ(epoch_permutation(500, 1, 0), epoch_permutation(500, 1, 0));
  EXPECT_NE(epoch_permutation(500, 1, 0), epoch_permutation(500, 1, 1));
  EXPECT_NE(epoch_permutation(500, 1, 0), epoch_permutation(500, 2, 0));
  std::vector<int64_t> identity(500);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(epoch_permutation(500, 1, 0), identity);
}

TEST(SampleOrder, FisherYatesDrawsFromTheDataOrderStream) {
  // The first draw swaps the last element with element j of [0, N), j from element 0 of the stream.
  const int64_t count = 10;
  const RandomStream stream{77, kPurposeDataOrder, 4, 0};
  const uint32_t bits = random_block(stream, 0).v[0];
  const int64_t j = static_cast<int64_t>((static_cast<uint64_t>(bits) * count) >> 32);
  // Later draws only touch positions before the last, so it keeps what the first swap put there.
  EXPECT_EQ(epoch_permutation(count, 77, 4)[count - 1], j);
}

TEST(SampleOrder, BatchesTilePermutationsAndDropThePartialBatch) {
  SampleOrder order(103, 10, 9);
  EXPECT_EQ(order.steps_per_epoch(), 10);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    const std::vector<int64_t> permutation = epoch_permutation(103, 9, epoch);
    std::vector<int64_t> seen;
    for (int64_t step = epoch * 10; step < (epoch + 1) * 10; ++step) {
      const std::vector<int64_t> batch = order.batch_indices(step, RankSlice{0, 10});
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
    EXPECT_EQ(seen, std::vector<int64_t>(permutation.begin(), permutation.begin() + 100));
  }
  // Going back to an earlier epoch recomputes its permutation.
  const std::vector<int64_t> step3 = SampleOrder(103, 10, 9).batch_indices(3, RankSlice{0, 10});
  EXPECT_EQ(order.batch_indices(3, RankSlice{2, 5}), std::vector<int64_t>(step3.begin() + 2, step3.begin() + 5));
}

TEST(SampleOrder, RankSlicesAreContiguousAndNeedDivisibleBatches) {
  EXPECT_EQ(rank_slice(8, 0, 1).end, 8);
  EXPECT_EQ(rank_slice(8, 1, 2).begin, 4);
  EXPECT_EQ(rank_slice(8, 3, 4).begin, 6);
  EXPECT_EQ(rank_slice(8, 3, 4).end, 8);
  EXPECT_THROW(rank_slice(10, 0, 4), Error);
  EXPECT_THROW(rank_slice(8, 4, 4), Error);
  EXPECT_THROW(SampleOrder(7, 8, 0), Error) << "fewer samples than one batch";
}

TEST(SampleOrder, FlipsAreDeterministicAndBalanced) {
  int flips = 0;
  for (int64_t sample = 0; sample < 4000; ++sample) {
    EXPECT_EQ(flip_sample(3, 7, sample), flip_sample(3, 7, sample));
    flips += flip_sample(3, 7, sample);
  }
  EXPECT_NEAR(flips, 2000, 200);
  int differ = 0;
  for (int64_t sample = 0; sample < 100; ++sample) differ += flip_sample(3, 7, sample) != flip_sample(4, 7, sample);
  EXPECT_GT(differ, 20) << "the seed matters";
}

}  // namespace
}  // namespace diffuse
