// The MPI communicator as real ranks (`mpirun -np 2` and `-np 3` from ctest).
// Rank r contributes values that are exact in fp32, so every sum has exactly
// one right answer whatever the reduction order.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/half.h"
#include "distributed/rank_agreement.h"
#include "tests/mpi/mpi_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

int rank() { return test_world().rank(); }
int world() { return test_world().size(); }
int rank_sum() { return world() * (world() + 1) / 2; }  // sum over ranks of (rank + 1)

// Rank r's element i: (r + 1) * (i mod 1000) / 4, exact in fp32; the sum over ranks is rank_sum() times the unit.
float unit(int64_t i) { return static_cast<float>(i % 1000) * 0.25f; }
float contribution(int r, int64_t i) { return static_cast<float>(r + 1) * unit(i); }

Tensor filled(int64_t count, int r) {
  Tensor tensor = Tensor::empty({count});
  for (int64_t i = 0; i < count; ++i) tensor.f32()[i] = contribution(r, i);
  return tensor;
}

const std::vector<int64_t> kUnevenSizes = {1, 7, 1023, 100003};

TEST(MpiCommunicator, AllReduceSumInPlaceIsExactForUnevenSizes) {
  for (int64_t count : kUnevenSizes) {
    const Tensor buffer = filled(count, rank());
    test_world().all_reduce_sum(buffer);
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(buffer.f32()[i], static_cast<float>(rank_sum()) * unit(i)) << "size " << count << " element " << i;
  }
}

TEST(MpiCommunicator, AllReduceOutOfPlaceLeavesTheInput) {
  for (int64_t count : kUnevenSizes) {
    const Tensor input = filled(count, rank());
    const Tensor output = Tensor::zeros({count});
    test_world().all_reduce(input, output, ReduceOp::kSum);
    for (int64_t i = 0; i < count; ++i) {
      ASSERT_EQ(output.f32()[i], static_cast<float>(rank_sum()) * unit(i)) << "size " << count << " element " << i;
      ASSERT_EQ(input.f32()[i], contribution(rank(), i));
    }
  }
}

TEST(MpiCommunicator, AllReduceAverage) {
  const Tensor buffer = filled(1001, rank());
  test_world().all_reduce(buffer, buffer, ReduceOp::kAverage);
  for (int64_t i = 0; i < 1001; ++i)
    ASSERT_FLOAT_EQ(buffer.f32()[i], static_cast<float>(rank_sum()) * unit(i) / static_cast<float>(world()));
  EXPECT_DOUBLE_EQ(test_world().all_reduce(rank() + 1.0, ReduceOp::kAverage), rank_sum() / double(world()));
  EXPECT_EQ(test_world().all_reduce_sum(rank() + 1.0), rank_sum());
}

TEST(MpiCommunicator, BroadcastFromEveryRoot) {
  for (int root = 0; root < world(); ++root) {
    const Tensor floats = filled(777, rank());
    test_world().broadcast(floats, root);
    for (int64_t i = 0; i < 777; ++i) ASSERT_EQ(floats.f32()[i], contribution(root, i)) << "root " << root;
    Tensor ints = Tensor::empty({5}, DType::I32);
    for (int i = 0; i < 5; ++i) ints.i32()[i] = 100 * rank() + i;
    test_world().broadcast(ints, root);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(ints.i32()[i], 100 * root + i);
  }
}

TEST(MpiCommunicator, AllGatherInRankOrder) {
  Tensor local = Tensor::empty({3, 2});
  for (int i = 0; i < 6; ++i) local.f32()[i] = static_cast<float>(10 * rank() + i);
  Tensor gathered = Tensor::zeros({3 * static_cast<int64_t>(world()), 2});
  test_world().all_gather(local, gathered);
  for (int r = 0; r < world(); ++r)
    for (int i = 0; i < 6; ++i) ASSERT_EQ(gathered.f32()[6 * r + i], static_cast<float>(10 * r + i));
}

// Uneven parts, one of them empty: rank r owns counts[r] elements.
std::vector<int64_t> uneven_counts() {
  std::vector<int64_t> counts;
  for (int r = 0; r < world(); ++r) counts.push_back(r == 1 ? 0 : 1000 * r + 3);
  return counts;
}

int64_t total(const std::vector<int64_t>& counts) {
  int64_t sum = 0;
  for (int64_t count : counts) sum += count;
  return sum;
}

int64_t offset_of(const std::vector<int64_t>& counts, int r) {
  int64_t offset = 0;
  for (int i = 0; i < r; ++i) offset += counts[static_cast<size_t>(i)];
  return offset;
}

TEST(MpiCommunicator, AllGatherInPlaceWithUnevenParts) {
  const std::vector<int64_t> counts = uneven_counts();
  Tensor buffer = Tensor::empty({total(counts)});
  fill(buffer, -1.0f);  // other ranks' parts start as junk
  const int64_t mine = offset_of(counts, rank());
  for (int64_t i = 0; i < counts[static_cast<size_t>(rank())]; ++i) buffer.f32()[mine + i] = contribution(rank(), i);
  test_world().all_gather_in_place(buffer, counts);
  for (int r = 0; r < world(); ++r)
    for (int64_t i = 0; i < counts[static_cast<size_t>(r)]; ++i)
      ASSERT_EQ(buffer.f32()[offset_of(counts, r) + i], contribution(r, i)) << "part " << r << " element " << i;
}

TEST(MpiCommunicator, ReduceScatterWithUnevenParts) {
  const std::vector<int64_t> counts = uneven_counts();
  const Tensor input = filled(total(counts), rank());
  const Tensor output = Tensor::zeros({counts[static_cast<size_t>(rank())]});
  test_world().wait(test_world().start_reduce_scatter(input, output, counts));
  const int64_t first = offset_of(counts, rank());
  for (int64_t i = 0; i < output.numel(); ++i)
    ASSERT_EQ(output.f32()[i], static_cast<float>(rank_sum()) * unit(first + i)) << "element " << i;
}

// bf16 buffers (train.reduce_dtype bf16): small integers sum exactly in any order.
Tensor bf16_filled(int64_t count, int r) {
  Tensor tensor = Tensor::empty({count}, DType::BF16);
  auto* values = static_cast<bf16*>(tensor.raw());
  for (int64_t i = 0; i < count; ++i) values[i] = float_to_bf16(static_cast<float>((r + 1) * (i % 8)));
  return tensor;
}

float bf16_at(const Tensor& tensor, int64_t i) { return bf16_to_float(static_cast<const bf16*>(tensor.raw())[i]); }

TEST(MpiCommunicator, Bf16ReductionsSumTheValues) {
  for (int64_t count : kUnevenSizes) {
    const Tensor buffer = bf16_filled(count, rank());
    test_world().wait(test_world().start_all_reduce(buffer, ReduceOp::kSum));
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(bf16_at(buffer, i), static_cast<float>(rank_sum() * (i % 8))) << "size " << count << " element " << i;
  }
  const std::vector<int64_t> counts = uneven_counts();
  const Tensor input = bf16_filled(total(counts), rank());
  const Tensor output = Tensor::zeros({counts[static_cast<size_t>(rank())]}, DType::BF16);
  test_world().wait(test_world().start_reduce_scatter(input, output, counts));
  const int64_t first = offset_of(counts, rank());
  for (int64_t i = 0; i < output.numel(); ++i)
    ASSERT_EQ(bf16_at(output, i), static_cast<float>(rank_sum() * ((first + i) % 8))) << "element " << i;
}

// Each sum is rounded to bf16 (8 significant bits), to nearest even: ranks 0
// and 1 contribute a pair, the others zeros, so the order cannot matter.
TEST(MpiCommunicator, Bf16SumsRoundToNearestEven) {
  const std::vector<std::pair<float, float>> pairs = {
      {1.0f, 0x1p-8f},      // 1 + 2^-8: halfway, rounds down to the even 1
      {1.0f, 3 * 0x1p-8f},  // 1 + 3 * 2^-8: halfway, rounds up to the even 1 + 2^-6
      {1.0f, -0x1p-9f},     // halfway below 1: rounds to 1
      {256.0f, 1.0f},       // 257 is not a bf16: 256
      {1.5f, 0.25f}};       // exact
  const std::vector<float> expected = {1.0f, 1.0f + 0x1p-6f, 1.0f, 256.0f, 1.75f};
  Tensor buffer = Tensor::zeros({static_cast<int64_t>(pairs.size())}, DType::BF16);
  auto* values = static_cast<bf16*>(buffer.raw());
  for (size_t i = 0; i < pairs.size(); ++i)
    if (rank() < 2) values[i] = float_to_bf16(rank() == 0 ? pairs[i].first : pairs[i].second);
  test_world().wait(test_world().start_all_reduce(buffer, ReduceOp::kSum));
  for (size_t i = 0; i < pairs.size(); ++i)
    EXPECT_EQ(bf16_at(buffer, static_cast<int64_t>(i)), expected[i]) << pairs[i].first << " + " << pairs[i].second;
}

TEST(MpiCommunicator, Bf16IsSummedNotAveraged) {
  const Tensor buffer = bf16_filled(5, rank());
  const std::string message =
      testing::error_message([&] { test_world().start_all_reduce(buffer, ReduceOp::kAverage); });
  EXPECT_NE(message.find("reduces f32 tensors, or sums bf16 ones; got bf16[5]@cpu to average"), std::string::npos)
      << message;
}

TEST(MpiCommunicator, StartedReductionsCanBeWaitedForInAnyOrder) {
  std::vector<Tensor> buffers;
  std::vector<CollectiveHandle> handles;
  for (int64_t count : kUnevenSizes) {
    buffers.push_back(filled(count, rank()));
    handles.push_back(test_world().start_all_reduce(buffers.back(), ReduceOp::kSum));
    test_world().progress();
  }
  for (size_t k = handles.size(); k-- > 0;) test_world().wait(handles[k]);
  for (const Tensor& buffer : buffers)
    for (int64_t i = 0; i < buffer.numel(); ++i) ASSERT_EQ(buffer.f32()[i], static_cast<float>(rank_sum()) * unit(i));
}

TEST(MpiCommunicator, RanksOnOneNode) {
  test_world().barrier();
  EXPECT_EQ(test_world().local_size(), world());
  EXPECT_EQ(test_world().local_rank(), rank());
}

TEST(RankAgreement, StringsTravelFromTheRoot) {
  const int root = world() - 1;
  const std::string text = rank() == root ? "runs/x/checkpoints/ckpt-00000042.h5" : "";
  EXPECT_EQ(broadcast_string(test_world(), text, root), "runs/x/checkpoints/ckpt-00000042.h5");
  EXPECT_EQ(broadcast_string(test_world(), "", 0), "");
}

TEST(RankAgreement, DifferentTextsFailOnEveryRank) {
  require_same_on_every_rank(test_world(), "train:\n  lr: 0.001\n", "configurations");
  std::string message;
  try {
    require_same_on_every_rank(test_world(), rank() == 1 ? "train:\n  lr: 0.002\n" : "train:\n  lr: 0.001\n",
                               "configurations");
  } catch (const Error& error) {
    message = error.what();
  }
  EXPECT_NE(message.find("the ranks were started with different configurations: rank(s) 1 differ from rank 0"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace diffuse
