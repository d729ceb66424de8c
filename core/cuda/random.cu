// Randomness on the GPU: normal/uniform fills and dropout, all addressed Philox
// draws (core/philox.h) on the CPU backend's streams: row n of the first axis
// reads stream (seed, purpose, step, first_sample + n) and element i of the row
// is element i of that stream. One thread per Philox block, which yields the
// row's four consecutive elements, so uniforms and dropout masks match the CPU
// bit for bit and normals to the last bit of double-precision libm. Dropout
// also takes bf16 and f16 activations (T): it masks and scales in fp32 and
// rounds once; the fills write fp32.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/cuda/random.h"
#include "core/float_storage.h"
#include "core/math/dropout.h"

namespace diffuse::cuda {

namespace {

// What one thread does with its block's four lanes.
enum class BlockUse { Uniform, Normal, Dropout };

struct RowBlocks {
  int64_t rows, row_length, blocks_per_row;
};

RowBlocks row_blocks(int64_t rows, int64_t row_length) { return RowBlocks{rows, row_length, (row_length + 3) / 4}; }

template <BlockUse use, typename T>
__global__ void philox_blocks_kernel(const T* in, T* out, RowBlocks shape, uint64_t seed, uint32_t purpose,
                                     uint32_t step, uint32_t first_sample, float p, float scale) {
  const int64_t count = shape.rows * shape.blocks_per_row;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t row = i / shape.blocks_per_row, block = i % shape.blocks_per_row;
    const RandomStream draws{seed, purpose, step, first_sample + static_cast<uint32_t>(row)};
    const Philox4 bits = random_block(draws, static_cast<uint32_t>(block));
    const int64_t first = 4 * block, last = first + 4 < shape.row_length ? first + 4 : shape.row_length;
    const int64_t row_start = row * shape.row_length;
    float values[4] = {};
    if constexpr (use == BlockUse::Normal) normals_of_block(bits, last - first, values);
    for (int64_t e = first; e < last; ++e) {
      const int lane = static_cast<int>(e & 3);
      if constexpr (use == BlockUse::Uniform) {
        out[row_start + e] = uniform_from_bits(bits.v[lane]);
      } else if constexpr (use == BlockUse::Normal) {
        out[row_start + e] = values[lane];
      } else {
        out[row_start + e] =
            from_float<T>(dropout_apply(to_float(in[row_start + e]), uniform_from_bits(bits.v[lane]), p, scale));
      }
    }
  }
}

template <BlockUse use, typename T>
void launch(const T* in, T* out, int64_t rows, int64_t row_length, uint64_t seed, uint32_t purpose, uint32_t step,
            uint32_t first_sample, float p = 0.0f, float scale = 1.0f) {
  const RowBlocks shape = row_blocks(rows, row_length);
  const int64_t count = shape.rows * shape.blocks_per_row;
  if (count == 0) return;
  launch_kernel(philox_blocks_kernel<use, T>, grid_for(count), kThreads, in, out, shape, seed, purpose, step,
                first_sample, p, scale);
}

int64_t row_length_of(const Tensor& tensor) { return tensor.dim(0) == 0 ? 0 : tensor.numel() / tensor.dim(0); }

// Forward (x) and backward (dy) alike: the mask is regenerated, never stored.
void apply_dropout(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) {
  if (p == 0.0f) {  // every uniform is > 0, so nothing drops and the scale is exactly 1
    if (y.raw() != x.raw() && x.nbytes() > 0)
      CUDA_CHECK(cudaMemcpyAsync(y.raw(), x.raw(), x.nbytes(), cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch<BlockUse::Dropout>(device_data<T>(x), device_data<T>(y), x.dim(0), row_length_of(x), key.seed,
                              kPurposeDropoutBase + key.layer, key.step, key.first_sample, p, dropout_scale(p));
  });
}

}  // namespace

void fill_random(float* data, int64_t rows, int64_t row_length, uint64_t seed, uint32_t purpose, uint32_t step,
                 uint32_t first_sample, Distribution distribution) {
  if (distribution == Distribution::Normal) {
    launch<BlockUse::Normal, float>(nullptr, data, rows, row_length, seed, purpose, step, first_sample);
  } else {
    launch<BlockUse::Uniform, float>(nullptr, data, rows, row_length, seed, purpose, step, first_sample);
  }
}

void CudaBackend::dropout_forward(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) {
  apply_dropout(x, p, key, y);
}

void CudaBackend::dropout_backward(const Tensor& dy, float p, const DropoutKey& key, const Tensor& dx) {
  apply_dropout(dy, p, key, dx);
}

void CudaBackend::fill_normal(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                              uint32_t first_sample) {
  fill_random(device_data<float>(tensor), tensor.dim(0), row_length_of(tensor), seed, purpose, step, first_sample,
              Distribution::Normal);
}

void CudaBackend::fill_uniform(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                               uint32_t first_sample) {
  fill_random(device_data<float>(tensor), tensor.dim(0), row_length_of(tensor), seed, purpose, step, first_sample,
              Distribution::Uniform);
}

}  // namespace diffuse::cuda
