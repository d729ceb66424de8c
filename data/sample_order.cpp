// Epoch permutations, flips and rank slices from counter-based random streams.
#include "data/sample_order.h"

#include <utility>

#include "core/error.h"
#include "core/philox.h"

namespace diffuse {

std::vector<int64_t> epoch_permutation(int64_t count, uint64_t seed, int64_t epoch) {
  DIFFUSE_CHECK(count >= 0 && count <= INT64_C(0xffffffff), "cannot shuffle ", count, " samples");
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) order[i] = i;
  const RandomStream stream{seed, kPurposeDataOrder, static_cast<uint32_t>(epoch), 0};
  Philox4 block{};
  for (int64_t draw = 0, i = count - 1; i > 0; ++draw, --i) {
    if (draw % 4 == 0) block = random_block(stream, static_cast<uint32_t>(draw / 4));
    // A uniform index in [0, i] by multiply-shift; its bias, under i / 2^32, is far below anything a shuffle can show.
    const uint64_t j = (static_cast<uint64_t>(block.v[draw % 4]) * static_cast<uint64_t>(i + 1)) >> 32;
    std::swap(order[i], order[j]);
  }
  return order;
}

bool flip_sample(uint64_t seed, int64_t step, int64_t global_sample) {
  const RandomStream stream{seed, kPurposeFlip, static_cast<uint32_t>(step), static_cast<uint32_t>(global_sample)};
  return random_uniform(stream, 0) < 0.5f;
}

RankSlice rank_slice(int64_t global_batch, int rank, int world_size) {
  DIFFUSE_CHECK(world_size > 0 && rank >= 0 && rank < world_size, "rank ", rank, " is outside a world of ", world_size);
  DIFFUSE_CHECK(global_batch > 0 && global_batch % world_size == 0, "the global batch size ", global_batch,
                " must be a positive multiple of the number of ranks ", world_size);
  const int64_t local = global_batch / world_size;
  return RankSlice{rank * local, (rank + 1) * local};
}

SampleOrder::SampleOrder(int64_t dataset_size, int64_t global_batch, uint64_t seed)
    : dataset_size_(dataset_size),
      global_batch_(global_batch),
      seed_(seed),
      steps_per_epoch_(global_batch > 0 ? dataset_size / global_batch : 0) {
  DIFFUSE_CHECK(global_batch > 0, "the global batch size must be positive, got ", global_batch);
  DIFFUSE_CHECK(steps_per_epoch_ > 0, "the dataset has ", dataset_size, " samples, fewer than one global batch of ",
                global_batch);
}

std::vector<int64_t> SampleOrder::batch_indices(int64_t step, RankSlice slice) {
  DIFFUSE_CHECK(step >= 0, "negative step ", step);
  DIFFUSE_CHECK(0 <= slice.begin && slice.begin <= slice.end && slice.end <= global_batch_, "batch slice [",
                slice.begin, ", ", slice.end, ") is outside a batch of ", global_batch_);
  const int64_t epoch = epoch_of(step);
  if (epoch != cached_epoch_) {
    permutation_ = epoch_permutation(dataset_size_, seed_, epoch);
    cached_epoch_ = epoch;
  }
  const int64_t first = (step % steps_per_epoch_) * global_batch_;
  return std::vector<int64_t>(permutation_.begin() + first + slice.begin, permutation_.begin() + first + slice.end);
}

}  // namespace diffuse
