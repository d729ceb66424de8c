#include "core/cpu/uniform_batch.h"

#include <algorithm>

namespace diffuse::cpu {

namespace {

constexpr int kBatchBlocks = 16;
constexpr int64_t kBatchElements = 4 * kBatchBlocks;
using BatchLanes = uint32_t[4][kBatchBlocks];

// Blocks [first, first + kBatchBlocks) of a stream, as random_block gives them one at a time: lane l of block
// first + j lands in lanes[l][j].
void random_blocks(const RandomStream& stream, uint32_t first, BatchLanes& lanes) {
  uint32_t* c0 = lanes[0];
  uint32_t* c1 = lanes[1];
  uint32_t* c2 = lanes[2];
  uint32_t* c3 = lanes[3];
  for (int j = 0; j < kBatchBlocks; ++j) {
    c0[j] = first + static_cast<uint32_t>(j);
    c1[j] = stream.sample;
    c2[j] = stream.step;
    c3[j] = stream.purpose;
  }
  uint32_t key0 = static_cast<uint32_t>(stream.seed), key1 = static_cast<uint32_t>(stream.seed >> 32);
  for (int round = 0; round < kPhiloxRounds; ++round) {
#pragma omp simd
    for (int j = 0; j < kBatchBlocks; ++j) {
      const uint64_t product0 = static_cast<uint64_t>(kPhiloxMultiplier0) * c0[j];
      const uint64_t product1 = static_cast<uint64_t>(kPhiloxMultiplier1) * c2[j];
      const uint32_t next0 = static_cast<uint32_t>(product1 >> 32) ^ c1[j] ^ key0;
      const uint32_t next2 = static_cast<uint32_t>(product0 >> 32) ^ c3[j] ^ key1;
      c1[j] = static_cast<uint32_t>(product1);
      c3[j] = static_cast<uint32_t>(product0);
      c0[j] = next0;
      c2[j] = next2;
    }
    key0 += kPhiloxWeyl0;
    key1 += kPhiloxWeyl1;
  }
}

}  // namespace

void draw_uniforms(const RandomStream& stream, int64_t first, int64_t count, float* out) {
  // Batches start on a block boundary; the first may begin inside its first block.
  for (int64_t batch_start = first - (first & 3); batch_start < first + count; batch_start += kBatchElements) {
    BatchLanes lanes;
    random_blocks(stream, static_cast<uint32_t>(batch_start >> 2), lanes);
    float values[kBatchElements];  // element order: block-major, lane-minor
    for (int j = 0; j < kBatchBlocks; ++j)
      for (int lane = 0; lane < 4; ++lane) values[4 * j + lane] = uniform_from_bits(lanes[lane][j]);
    const int64_t begin = std::max(first, batch_start), end = std::min(first + count, batch_start + kBatchElements);
    std::copy(values + (begin - batch_start), values + (end - batch_start), out + (begin - first));
  }
}

}  // namespace diffuse::cpu
