// Which dataset samples each training step uses, independent of the number of
// ranks (docs/architecture.md, "World-size-invariant training"): epoch e is a Philox-
// seeded permutation of [0, N); global step s takes positions
// [p, p + B) of epoch s / steps_per_epoch's permutation, p = (s % steps_per_epoch) * B,
// and rank r of W takes the contiguous slice [r * B / W, (r + 1) * B / W).
#pragma once

#include <cstdint>
#include <vector>

namespace diffuse {

// Fisher-Yates shuffle of [0, count) whose k-th draw (k = 0, 1, ...) is
// element k of the Philox stream {seed, kPurposeDataOrder, epoch, 0}.
std::vector<int64_t> epoch_permutation(int64_t count, uint64_t seed, int64_t epoch);

// Whether the sample at global batch position `global_sample` (= step * B + i)
// of `step` is flipped horizontally: element 0 of the stream
// {seed, kPurposeFlip, step, global_sample} is below one half.
bool flip_sample(uint64_t seed, int64_t step, int64_t global_sample);

// This rank's part [begin, end) of a global batch; B must be divisible by W.
struct RankSlice {
  int64_t begin;
  int64_t end;
};
RankSlice rank_slice(int64_t global_batch, int rank, int world_size);

// The dataset indices of any step's batch, keeping the current epoch's permutation.
class SampleOrder {
 public:
  SampleOrder(int64_t dataset_size, int64_t global_batch, uint64_t seed);

  // N / B: the last partial batch of each epoch is dropped.
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t epoch_of(int64_t step) const { return step / steps_per_epoch_; }
  // Dataset indices at batch positions [slice.begin, slice.end) of `step`.
  std::vector<int64_t> batch_indices(int64_t step, RankSlice slice);

 private:
  int64_t dataset_size_;
  int64_t global_batch_;
  uint64_t seed_;
  int64_t steps_per_epoch_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> permutation_;
};

}  // namespace diffuse
