#include "core/cpu/uniform_batch.h"

#include <algorithm>

#if defined(__AVX512F__)
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation, which -Wmaybe-uninitialized flags
// (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace diffuse::cpu {

namespace {

constexpr int kBatchBlocks = 16;
constexpr int64_t kBatchElements = 4 * kBatchBlocks;
using BatchLanes = uint32_t[4][kBatchBlocks];

// Blocks [first, first + kBatchBlocks) of a stream, as random_block gives them one at a time: lane l of block
// first + j lands in lanes[l][j].
#if defined(__AVX512F__)
// The 32x32 -> 64-bit products go through vpmuludq, on the even and then the odd 32-bit lanes of a vector of
// sixteen counters (compilers widen the portable loop's products to slower 64-bit multiplies).
struct WideProduct {
  __m512i high, low;
};

WideProduct multiply_wide(__m512i a, __m512i multiplier) {
  const __m512i even = _mm512_mul_epu32(a, multiplier);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), multiplier);
  constexpr __mmask16 kOddLanes = 0xAAAA;
  return WideProduct{_mm512_mask_blend_epi32(kOddLanes, _mm512_srli_epi64(even, 32), odd),
                     _mm512_mask_blend_epi32(kOddLanes, even, _mm512_slli_epi64(odd, 32))};
}

void random_blocks(const RandomStream& stream, uint32_t first, BatchLanes& lanes) {
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first)),
                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i c1 = _mm512_set1_epi32(static_cast<int>(stream.sample));
  __m512i c2 = _mm512_set1_epi32(static_cast<int>(stream.step));
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(stream.purpose));
  const __m512i multiplier0 = _mm512_set1_epi32(static_cast<int>(kPhiloxMultiplier0));
  const __m512i multiplier1 = _mm512_set1_epi32(static_cast<int>(kPhiloxMultiplier1));
  uint32_t key0 = static_cast<uint32_t>(stream.seed), key1 = static_cast<uint32_t>(stream.seed >> 32);
  for (int round = 0; round < kPhiloxRounds; ++round) {
    const WideProduct product0 = multiply_wide(c0, multiplier0);
    const WideProduct product1 = multiply_wide(c2, multiplier1);
    const __m512i next0 =
        _mm512_xor_si512(_mm512_xor_si512(product1.high, c1), _mm512_set1_epi32(static_cast<int>(key0)));
    const __m512i next2 =
        _mm512_xor_si512(_mm512_xor_si512(product0.high, c3), _mm512_set1_epi32(static_cast<int>(key1)));
    c1 = product1.low;
    c3 = product0.low;
    c0 = next0;
    c2 = next2;
    key0 += kPhiloxWeyl0;
    key1 += kPhiloxWeyl1;
  }
  _mm512_storeu_si512(lanes[0], c0);
  _mm512_storeu_si512(lanes[1], c1);
  _mm512_storeu_si512(lanes[2], c2);
  _mm512_storeu_si512(lanes[3], c3);
}
#else
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
#endif

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
