// The NCCL communicator as real ranks (CUDA builds): exact collectives on
// device buffers when every rank on the node has its own GPU, and otherwise
// the error of distributed/gpu_for_rank.h or of a missing GPU (which is what a
// machine without a GPU checks).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cuda/runtime.h"
#include "core/ops.h"
#include "distributed/communicator_nccl.h"
#include "distributed/gpu_for_rank.h"
#include "tests/mpi/mpi_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

int rank() { return test_world().rank(); }
int world() { return test_world().size(); }
int rank_sum() { return world() * (world() + 1) / 2; }

float contribution(int r, int64_t i) { return static_cast<float>((r + 1) * (i % 1000)) * 0.25f; }

Tensor copy_to_device(const Tensor& host) {
  Tensor device = Tensor::empty(host.shape(), host.dtype(), Device::CUDA);
  copy(host, device);
  return device;
}

Tensor on_device(const std::vector<float>& values) {
  return copy_to_device(from_vector(values, {static_cast<int64_t>(values.size())}));
}

std::vector<float> contributions(int64_t count, int r, int64_t first = 0) {
  std::vector<float> values;
  for (int64_t i = 0; i < count; ++i) values.push_back(contribution(r, first + i));
  return values;
}

// Parts of a reduce-scatter or all-gather: rank 1's is empty, rank r's has base + r elements.
struct UnevenParts {
  std::vector<int64_t> counts;
  int64_t total = 0;
  int64_t mine = 0;  // this rank's offset
};

UnevenParts uneven_parts(int64_t base) {
  UnevenParts parts;
  for (int r = 0; r < world(); ++r) {
    parts.counts.push_back(r == 1 ? 0 : base + r);
    if (r < rank()) parts.mine += parts.counts.back();
    parts.total += parts.counts.back();
  }
  return parts;
}

// Why this rank has no GPU of its own by the rule of distributed/gpu_for_rank.h ("" when it has one).
std::string gpu_problem() {
  if (cuda::device_count() == 0) return cuda::unavailable_reason();
  return testing::error_message(
      [] { gpu_for_rank(cuda::device_count(), test_world().local_rank(), test_world().local_size()); });
}

bool every_rank_has_a_gpu() { return gpu_problem().empty(); }

TEST(NcclCommunicator, ARankWithoutItsOwnGpuIsAnError) {
  if (every_rank_has_a_gpu()) GTEST_SKIP() << "every rank has a GPU here";
  std::string message;
  try {
    make_nccl_communicator(MPI_COMM_WORLD, 60.0);
  } catch (const Error& error) {
    message = error.what();
  }
  const std::string problem = gpu_problem();
  // The rule's message ends in its file and line, the communicator's in its own: compare up to them.
  EXPECT_NE(message.find(problem.substr(0, problem.find(" ("))), std::string::npos) << message;
}

TEST(NcclCommunicator, DeviceCollectivesAreExact) {
  if (!every_rank_has_a_gpu()) GTEST_SKIP() << "fewer GPUs than ranks on this node";
  const std::unique_ptr<Communicator> nccl = make_nccl_communicator(MPI_COMM_WORLD, 60.0);
  for (int64_t count : {1, 7, 100003}) {
    const Tensor buffer = on_device(contributions(count, rank()));
    nccl->all_reduce_sum(buffer);
    const std::vector<float> sums = to_vector(buffer);
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(sums[static_cast<size_t>(i)], contribution(rank_sum() - 1, i)) << "element " << i;
  }
  // Started reductions, waited for out of order.
  const Tensor first = on_device(contributions(4096, rank())), second = on_device(contributions(333, rank()));
  const CollectiveHandle a = nccl->start_all_reduce(first, ReduceOp::kSum);
  const CollectiveHandle b = nccl->start_all_reduce(second, ReduceOp::kAverage);
  nccl->wait(b);
  nccl->wait(a);
  EXPECT_EQ(to_vector(first)[4095], contribution(rank_sum() - 1, 4095));
  EXPECT_FLOAT_EQ(to_vector(second)[332], contribution(rank_sum() - 1, 332) / static_cast<float>(world()));

  // Broadcast, all-gather, uneven in-place all-gather and reduce-scatter.
  const Tensor broadcast = on_device(contributions(10, rank()));
  nccl->broadcast(broadcast, world() - 1);
  EXPECT_EQ(to_vector(broadcast), contributions(10, world() - 1));
  const Tensor gathered = Tensor::empty({3 * static_cast<int64_t>(world())}, DType::F32, Device::CUDA);
  nccl->all_gather(on_device(contributions(3, rank())), gathered);
  for (int r = 0; r < world(); ++r) EXPECT_EQ(to_vector(gathered)[static_cast<size_t>(3 * r + 2)], contribution(r, 2));
  const UnevenParts uneven = uneven_parts(100);
  const std::vector<int64_t>& counts = uneven.counts;
  const int64_t total = uneven.total, mine = uneven.mine;
  std::vector<float> parts(static_cast<size_t>(total), -1.0f);
  for (int64_t i = 0; i < counts[static_cast<size_t>(rank())]; ++i)
    parts[static_cast<size_t>(mine + i)] = contribution(rank(), i);
  const Tensor in_place = on_device(parts);
  nccl->all_gather_in_place(in_place, counts);
  const std::vector<float> all = to_vector(in_place);
  int64_t offset = 0;
  for (int r = 0; r < world(); ++r) {
    for (int64_t i = 0; i < counts[static_cast<size_t>(r)]; ++i)
      ASSERT_EQ(all[static_cast<size_t>(offset + i)], contribution(r, i));
    offset += counts[static_cast<size_t>(r)];
  }
  const Tensor scattered = Tensor::empty({counts[static_cast<size_t>(rank())]}, DType::F32, Device::CUDA);
  nccl->wait(nccl->start_reduce_scatter(on_device(contributions(total, rank())), scattered, counts));
  const std::vector<float> share = to_vector(scattered);
  for (size_t i = 0; i < share.size(); ++i)
    ASSERT_EQ(share[i], contribution(rank_sum() - 1, mine + static_cast<int64_t>(i)));
  // Host tensors and numbers go through MPI.
  EXPECT_EQ(nccl->all_reduce_sum(1.0), world());
}

// bf16 on the wire (train.reduce_dtype bf16): small integers sum exactly, in
// all-reduce and in the uneven reduce-scatter (whose parts are byte offsets).
TEST(NcclCommunicator, Bf16BuffersAreSummed) {
  if (!every_rank_has_a_gpu()) GTEST_SKIP() << "fewer GPUs than ranks on this node";
  const std::unique_ptr<Communicator> nccl = make_nccl_communicator(MPI_COMM_WORLD, 60.0);
  const auto bf16_on_device = [](int64_t count, int r) {
    Tensor values = Tensor::empty({count});
    for (int64_t i = 0; i < count; ++i) values.f32()[i] = static_cast<float>((r + 1) * (i % 8));
    Tensor narrow = Tensor::empty({count}, DType::BF16, Device::CUDA);
    ops::cast(copy_to_device(values), narrow);
    return narrow;
  };
  const Tensor buffer = bf16_on_device(1001, rank());
  nccl->wait(nccl->start_all_reduce(buffer, ReduceOp::kSum));
  const std::vector<float> sums = to_vector(buffer);
  for (int64_t i = 0; i < 1001; ++i)
    ASSERT_EQ(sums[static_cast<size_t>(i)], static_cast<float>(rank_sum() * (i % 8))) << "element " << i;

  const UnevenParts uneven = uneven_parts(101);
  const std::vector<int64_t>& counts = uneven.counts;
  const int64_t total = uneven.total, mine = uneven.mine;
  const Tensor scattered = Tensor::empty({counts[static_cast<size_t>(rank())]}, DType::BF16, Device::CUDA);
  nccl->wait(nccl->start_reduce_scatter(bf16_on_device(total, rank()), scattered, counts));
  const std::vector<float> share = to_vector(scattered);
  for (size_t i = 0; i < share.size(); ++i)
    ASSERT_EQ(share[i], static_cast<float>(rank_sum() * ((mine + static_cast<int64_t>(i)) % 8))) << "element " << i;
}

}  // namespace
}  // namespace diffuse
