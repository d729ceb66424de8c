// Randomness on the CPU: dropout and normal/uniform fills, all addressed
// Philox draws (core/philox.h). Row n of the first axis reads the stream
// (seed, purpose, step, first_sample + n) and element i of the row is element
// i of that stream, so a sample's numbers do not depend on which rank or batch
// slice computes it. Each Philox block yields four consecutive elements; the
// loops use all four lanes rather than calling random_uniform per element, and
// dropout draws its uniforms in batches (uniform_batch.h); both give the same
// values.
#include <algorithm>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/cpu/uniform_batch.h"
#include "core/float_storage.h"
#include "core/math/dropout.h"
#include "core/philox.h"

namespace diffuse::cpu {

namespace {

constexpr int64_t kBlocksPerTask = 256;  // 1024 elements: enough work to amortise a task
constexpr int64_t kDrawCost = 4;         // a Philox draw (~10 ns) costs about four simple element ops

// Calls body(row_start, bits, first, last) for every Philox block of every
// row: the block's four lanes cover elements [first, last) of the row that
// starts at flat index row_start. Parallel over (row, run of blocks).
template <typename Body>
void for_each_block(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step, uint32_t first_sample,
                    const Body& body) {
  const int64_t rows = tensor.dim(0);
  if (rows == 0) return;
  const int64_t row_length = tensor.numel() / rows;
  const int64_t blocks = (row_length + 3) / 4, tasks = (blocks + kBlocksPerTask - 1) / kBlocksPerTask;
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(kDrawCost * tensor.numel()))
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t task = 0; task < tasks; ++task) {
      const RandomStream stream{seed, purpose, step, first_sample + static_cast<uint32_t>(row)};
      const int64_t last_block = std::min(blocks, (task + 1) * kBlocksPerTask);
      for (int64_t block = task * kBlocksPerTask; block < last_block; ++block) {
        const Philox4 bits = random_block(stream, static_cast<uint32_t>(block));
        body(row * row_length, bits, 4 * block, std::min(row_length, 4 * block + 4));
      }
    }
}

// y = dropout(x) for forward (x) and backward (dy) alike: the mask is regenerated, never stored. Parallel over
// (row, run of blocks) like for_each_block, drawing each run's uniforms in one batch. T is the activations'
// storage type: each element is widened, masked and scaled in fp32, and rounded once.
template <typename T>
void apply_dropout(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) {
  const T* in = storage_data<T>(x);
  T* out = storage_data<T>(y);
  if (p == 0.0f) {  // every uniform is > 0, so nothing drops and the scale is exactly 1
    if (out != in) std::copy(in, in + x.numel(), out);
    return;
  }
  const float scale = dropout_scale(p);
  const int64_t rows = x.dim(0);
  if (rows == 0) return;
  const int64_t row_length = x.numel() / rows;
  constexpr int64_t kTaskElements = 4 * kBlocksPerTask;
  const int64_t tasks = (row_length + kTaskElements - 1) / kTaskElements;
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(kDrawCost * x.numel()))
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t task = 0; task < tasks; ++task) {
      const RandomStream stream{key.seed, kPurposeDropoutBase + key.layer, key.step,
                                key.first_sample + static_cast<uint32_t>(row)};
      const int64_t first = task * kTaskElements, count = std::min(kTaskElements, row_length - first);
      float uniforms[kTaskElements];
      draw_uniforms(stream, first, count, uniforms);
      const T* source = in + row * row_length + first;
      T* target = out + row * row_length + first;
#pragma omp simd
      for (int64_t i = 0; i < count; ++i)
        target[i] = from_float<T>(dropout_apply(to_float(source[i]), uniforms[i], p, scale));
    }
}

void apply_dropout(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) { apply_dropout<decltype(tag)>(x, p, key, y); });
}

}  // namespace

void CpuBackend::dropout_forward(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) {
  apply_dropout(x, p, key, y);
}

void CpuBackend::dropout_backward(const Tensor& dy, float p, const DropoutKey& key, const Tensor& dx) {
  apply_dropout(dy, p, key, dx);
}

void CpuBackend::fill_normal(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                             uint32_t first_sample) {
  float* out = tensor.f32();
  for_each_block(tensor, seed, purpose, step, first_sample,
                 [&](int64_t row_start, const Philox4& bits, int64_t first, int64_t last) {
                   float values[4] = {};
                   normals_of_block(bits, last - first, values);
                   for (int64_t i = first; i < last; ++i) out[row_start + i] = values[i & 3];
                 });
}

void CpuBackend::fill_uniform(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                              uint32_t first_sample) {
  float* out = tensor.f32();
  for_each_block(tensor, seed, purpose, step, first_sample,
                 [&](int64_t row_start, const Philox4& bits, int64_t first, int64_t last) {
                   for (int64_t i = first; i < last; ++i) out[row_start + i] = uniform_from_bits(bits.v[i & 3]);
                 });
}

}  // namespace diffuse::cpu
