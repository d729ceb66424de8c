// Bias kernels of the GEMM-shaped ops: the broadcast before a linear layer's
// GEMM, the epilogue after a convolution or GEMM (converting the product to the
// output's type and adding the bias and skip connection in one pass), and the
// column sums, of fp32, bf16 or fp16 rows, that give bias gradients (and the
// time-embedding gradient of add_channel_vector_backward).
//
// Column sums are deterministic and in double, as on the CPU: stage 1 sums a
// chunk of rows per column (threads walk columns, so reads are coalesced),
// stage 2 adds the chunks of each column in order.
#include "core/cuda/kernel_support.cuh"
#include "core/cuda/kernels.h"
#include "core/float_storage.h"

namespace diffuse::cuda {

namespace {

constexpr int64_t kRowsPerChunk = 64;

template <typename In, typename Out>
__global__ void bias_epilogue_kernel(const In* source, const float* bias, const Out* residual, int64_t rows,
                                     int64_t cols, Out* y) {
  const int64_t count = rows * cols;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    float value = to_float(source[i]);
    if (bias != nullptr) value += bias[i % cols];
    if (residual != nullptr) value += to_float(residual[i]);
    y[i] = from_float<Out>(value);
  }
}

__global__ void fill_rows_kernel(float* y, int64_t rows, int64_t cols, const float* vector) {
  const int64_t count = rows * cols;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = vector[i % cols];
}

// grid (chunks, batches); partial[(b * chunks + chunk) * cols + c].
template <typename In>
__global__ void chunk_column_sums_kernel(const In* x, int64_t rows, int64_t cols, int64_t chunks, double* partial) {
  const int64_t batch = blockIdx.y, chunk = blockIdx.x;
  const int64_t first = chunk * kRowsPerChunk;
  const int64_t last = first + kRowsPerChunk < rows ? first + kRowsPerChunk : rows;
  const In* matrix = x + batch * rows * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    double sum = 0.0;
    for (int64_t r = first; r < last; ++r) sum += to_float(matrix[r * cols + c]);
    partial[(batch * chunks + chunk) * cols + c] = sum;
  }
}

__global__ void reduce_chunks_kernel(const double* partial, int64_t batches, int64_t cols, int64_t chunks, float* out,
                                     bool accumulate) {
  const int64_t count = batches * cols;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t batch = i / cols, c = i % cols;
    double total = 0.0;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) total += partial[(batch * chunks + chunk) * cols + c];
    out[i] = accumulate ? out[i] + static_cast<float>(total) : static_cast<float>(total);
  }
}

}  // namespace

void bias_epilogue(const void* source, DType source_type, const float* bias, const void* residual, int64_t rows,
                   int64_t cols, void* y, DType y_type) {
  const int64_t count = rows * cols;
  if (count == 0 || (source == y && source_type == y_type && bias == nullptr && residual == nullptr)) return;
  with_storage_type(source_type, [&](auto source_tag) {
    with_storage_type(y_type, [&](auto y_tag) {
      using In = decltype(source_tag);
      using Out = decltype(y_tag);
      launch_kernel(bias_epilogue_kernel<In, Out>, grid_for(count), kThreads, static_cast<const In*>(source), bias,
                    static_cast<const Out*>(residual), rows, cols, static_cast<Out*>(y));
    });
  });
}

void fill_rows(float* y, int64_t rows, int64_t cols, const float* vector) {
  const int64_t count = rows * cols;
  if (count == 0) return;
  launch_kernel(fill_rows_kernel, grid_for(count), kThreads, y, rows, cols, vector);
}

void column_sums(const void* x, DType x_type, int64_t batches, int64_t rows, int64_t cols, float* out, Reduce mode) {
  if (batches == 0 || cols == 0) return;
  const int64_t chunks = rows == 0 ? 1 : (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  DIFFUSE_CHECK(batches <= 65535, "column_sums: ", batches, " batches exceed the grid's y extent");
  Tensor partial = scratch_doubles(batches * chunks * cols);
  with_storage_type(x_type, [&](auto tag) {
    using In = decltype(tag);
    launch_kernel(chunk_column_sums_kernel<In>, dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(batches)),
                  threads_for_columns(cols), static_cast<const In*>(x), rows, cols, chunks,
                  device_data<double>(partial));
  });
  launch_kernel(reduce_chunks_kernel, grid_for(batches * cols), kThreads, device_data<double>(partial), batches, cols,
                chunks, out, mode == Reduce::Accumulate);
}

}  // namespace diffuse::cuda
