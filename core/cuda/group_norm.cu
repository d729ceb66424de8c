// Group normalisation on the GPU, alone and fused with SiLU and dropout
// (group_norm_silu_*): NHWC, statistics per (sample, group) over
// H*W*(C/groups) elements, with the element formulas of core/math (shared with
// the CPU backend). Activations (x, y, dy, dx) are f32, bf16 or f16, one type
// per call: the kernels are templated on it, widen on load and round once on
// store, while parameters, statistics and sums stay fp32 or double.
//
// Sums are cut into chunks of pixels: a block per (chunk, sample) with a
// thread per channel (coalesced reads of whole pixels) sums its chunk in
// double; chunks and channels are then combined in a fixed order, so results
// repeat bit for bit. Forward statistics are taken about a per-channel shift
// (the channel's first value in the sample) and combined with Chan's formula
// (GroupMoments), which keeps the variance exact when the mean is large
// against the spread, in one read of x.
//
// Element kernels give a thread one Philox block (four consecutive elements of
// a sample), so the fused op's dropout draws each uniform once, as on the CPU.
// The fused backward first writes g = dropout(dy) * SiLU'(normalized) in fp32
// (into dx when dx is fp32, else scratch) and then runs group norm's backward
// on g.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/float_storage.h"
#include "core/math/activation.h"
#include "core/math/dropout.h"
#include "core/math/group_norm.h"
#include "core/philox.h"

namespace diffuse::cuda {

namespace {

constexpr int64_t kChunkPixels = 32;

struct GroupNormShape {
  int64_t n, hw, c, groups, cg, chunks;
};

GroupNormShape shape_of(const Tensor& x, int groups) {
  const int64_t hw = x.dim(1) * x.dim(2);
  return GroupNormShape{x.dim(0), hw, x.dim(3), groups, x.dim(3) / groups, (hw + kChunkPixels - 1) / kChunkPixels};
}

dim3 chunk_grid(const GroupNormShape& s) {
  DIFFUSE_CHECK(s.n <= 65535, "group_norm: a batch of ", s.n, " samples exceeds the grid's y extent (65535)");
  return dim3(static_cast<unsigned>(s.chunks), static_cast<unsigned>(s.n));
}

// partial[(n * chunks + chunk) * C + c] = (sum of x - shift, sum of (x - shift)^2) over the chunk's pixels,
// shift = x[n, pixel 0, c].
template <typename T>
__global__ void shifted_sums_kernel(const T* x, GroupNormShape s, double2* partial) {
  const int64_t n = blockIdx.y, chunk = blockIdx.x;
  const int64_t first = chunk * kChunkPixels, last = first + kChunkPixels < s.hw ? first + kChunkPixels : s.hw;
  const T* sample = x + n * s.hw * s.c;
  for (int64_t c = threadIdx.x; c < s.c; c += blockDim.x) {
    const double shift = to_float(sample[c]);
    double sum = 0.0, squares = 0.0;
    for (int64_t p = first; p < last; ++p) {
      const double d = static_cast<double>(to_float(sample[p * s.c + c])) - shift;
      sum += d;
      squares += d * d;
    }
    partial[(n * s.chunks + chunk) * s.c + c] = make_double2(sum, squares);
  }
}

// One thread per (sample, group): combine its channels' chunk sums into the mean and rstd.
template <typename T>
__global__ void group_statistics_kernel(const T* x, const double2* partial, GroupNormShape s, float eps, float* mean,
                                        float* rstd) {
  const int64_t count = s.n * s.groups;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / s.groups, g = i % s.groups;
    GroupMoments moments;
    for (int64_t c = g * s.cg; c < (g + 1) * s.cg; ++c) {
      double sum = 0.0, squares = 0.0;
      for (int64_t chunk = 0; chunk < s.chunks; ++chunk) {
        const double2 part = partial[(n * s.chunks + chunk) * s.c + c];
        sum += part.x;
        squares += part.y;
      }
      if (s.hw > 0) moments.add_channel(to_float(x[n * s.hw * s.c + c]), static_cast<double>(s.hw), sum, squares);
    }
    mean[i] = static_cast<float>(moments.mean);
    rstd[i] = group_norm_rstd(moments.variance(), eps);
  }
}

// The dropout of the fused op, with its survivors' scale; p == 0 draws nothing.
struct DropoutDraw {
  uint64_t seed;
  uint32_t purpose, step, first_sample;
  float p, scale;
};

DropoutDraw dropout_draw(const Dropout& dropout) {
  const DropoutKey& key = dropout.key;
  return DropoutDraw{key.seed,  kPurposeDropoutBase + key.layer, key.step, key.first_sample,
                     dropout.p, dropout_scale(dropout.p)};
}

// Calls body(element index, channel, group, uniform) for the (up to) four elements of Philox block `i` of a
// sample's row; uniform is the dropout draw of the element (drawn only when kDropout).
template <bool kDropout, typename Body>
__device__ void for_block_elements(int64_t i, const GroupNormShape& s, const DropoutDraw& draw, const Body& body) {
  const int64_t row_length = s.hw * s.c, blocks_per_row = (row_length + 3) / 4;
  const int64_t n = i / blocks_per_row, block = i % blocks_per_row;
  Philox4 bits{};
  if (kDropout) {
    const RandomStream stream{draw.seed, draw.purpose, draw.step, draw.first_sample + static_cast<uint32_t>(n)};
    bits = random_block(stream, static_cast<uint32_t>(block));
  }
  const int64_t first = 4 * block, last = first + 4 < row_length ? first + 4 : row_length;
  for (int64_t e = first; e < last; ++e) {
    const int64_t c = e % s.c;
    body(n * row_length + e, c, n * s.groups + c / s.cg, kDropout ? uniform_from_bits(bits.v[e & 3]) : 0.0f);
  }
}

__host__ __device__ inline int64_t element_blocks(const GroupNormShape& s) { return s.n * ((s.hw * s.c + 3) / 4); }

// y = dropout(SiLU(normalized)), either step compiled in or out. Each element is read before it is written, so y
// may alias x.
template <bool kSilu, bool kDropout, typename T>
__global__ void normalize_kernel(const T* x, const float* gamma, const float* beta, const float* mean,
                                 const float* rstd, GroupNormShape s, DropoutDraw draw, T* y) {
  const int64_t count = element_blocks(s);
  for (int64_t i = grid_start(); i < count; i += grid_stride())
    for_block_elements<kDropout>(i, s, draw, [&](int64_t at, int64_t c, int64_t group, float uniform) {
      float value = group_norm_output(to_float(x[at]), mean[group], rstd[group] * gamma[c], beta[c]);
      if (kSilu) value = silu(value);
      if (kDropout) value = dropout_apply(value, uniform, draw.p, draw.scale);
      y[at] = from_float<T>(value);
    });
}

// g = dropout(dy) * SiLU'(normalized): the gradient at the fused op's normalisation output. g may alias dy.
template <bool kDropout, typename T>
__global__ void activation_gradient_kernel(const T* x, const T* dy, const float* gamma, const float* beta,
                                           const float* mean, const float* rstd, GroupNormShape s, DropoutDraw draw,
                                           float* g) {
  const int64_t count = element_blocks(s);
  for (int64_t i = grid_start(); i < count; i += grid_stride())
    for_block_elements<kDropout>(i, s, draw, [&](int64_t at, int64_t c, int64_t group, float uniform) {
      const float grad = kDropout ? dropout_apply(to_float(dy[at]), uniform, draw.p, draw.scale) : to_float(dy[at]);
      g[at] = grad * silu_derivative(group_norm_output(to_float(x[at]), mean[group], rstd[group] * gamma[c], beta[c]));
    });
}

// partial[(n * chunks + chunk) * C + c] = (sum of dy, sum of dy * (x - mean)) over the chunk's pixels. dy is the
// activations' type T, or fp32 (G) where it is the fused op's g.
template <typename T, typename G>
__global__ void gradient_sums_kernel(const T* x, const G* dy, const float* mean, GroupNormShape s, double2* partial) {
  const int64_t n = blockIdx.y, chunk = blockIdx.x;
  const int64_t first = chunk * kChunkPixels, last = first + kChunkPixels < s.hw ? first + kChunkPixels : s.hw;
  const T* sample_x = x + n * s.hw * s.c;
  const G* sample_dy = dy + n * s.hw * s.c;
  for (int64_t c = threadIdx.x; c < s.c; c += blockDim.x) {
    const double centre = mean[n * s.groups + c / s.cg];
    double sum_dy = 0.0, sum_dy_centred = 0.0;
    for (int64_t p = first; p < last; ++p) {
      const double grad = to_float(sample_dy[p * s.c + c]);
      sum_dy += grad;
      sum_dy_centred += grad * (static_cast<double>(to_float(sample_x[p * s.c + c])) - centre);
    }
    partial[(n * s.chunks + chunk) * s.c + c] = make_double2(sum_dy, sum_dy_centred);
  }
}

// totals[n * C + c]: the chunk sums of one (sample, channel) added in order.
__global__ void channel_totals_kernel(const double2* partial, GroupNormShape s, double2* totals) {
  const int64_t count = s.n * s.c;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / s.c, c = i % s.c;
    double sum_dy = 0.0, sum_dy_centred = 0.0;
    for (int64_t chunk = 0; chunk < s.chunks; ++chunk) {
      const double2 part = partial[(n * s.chunks + chunk) * s.c + c];
      sum_dy += part.x;
      sum_dy_centred += part.y;
    }
    totals[i] = make_double2(sum_dy, sum_dy_centred);
  }
}

// dgamma[c] += sum_n rstd * sum(dy (x - mean)), dbeta[c] += sum_n sum(dy), over the batch in order.
__global__ void parameter_gradients_kernel(const double2* totals, const float* rstd, GroupNormShape s, float* dgamma,
                                           float* dbeta) {
  for (int64_t c = grid_start(); c < s.c; c += grid_stride()) {
    double gamma_sum = 0.0, beta_sum = 0.0;
    for (int64_t n = 0; n < s.n; ++n) {
      const double2 t = totals[n * s.c + c];
      gamma_sum += rstd[n * s.groups + c / s.cg] * t.y;
      beta_sum += t.x;
    }
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(gamma_sum);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(beta_sum);
  }
}

// One thread per (sample, group): the dx coefficients of core/math/group_norm.h.
__global__ void input_gradient_coefficients_kernel(const double2* totals, const float* gamma, const float* rstd,
                                                   GroupNormShape s, GroupNormGradCoefficients* coefficients) {
  const int64_t count = s.n * s.groups;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / s.groups, g = i % s.groups;
    double sum_g = 0.0, sum_g_centred = 0.0;
    for (int64_t c = g * s.cg; c < (g + 1) * s.cg; ++c) {
      const double2 t = totals[n * s.c + c];
      sum_g += gamma[c] * t.x;
      sum_g_centred += gamma[c] * t.y;
    }
    coefficients[i] = group_norm_grad_coefficients(sum_g, sum_g_centred, rstd[i], s.hw * s.cg);
  }
}

template <typename T, typename G>
__global__ void input_gradient_kernel(const T* x, const G* dy, const float* gamma, const float* mean, const float* rstd,
                                      const GroupNormGradCoefficients* coefficients, GroupNormShape s, T* dx) {
  const int64_t count = s.n * s.hw * s.c;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % s.c, n = i / (s.hw * s.c);
    const int64_t group = n * s.groups + c / s.cg;
    dx[i] = from_float<T>(group_norm_input_grad(to_float(dy[i]), to_float(x[i]), gamma[c], mean[group], rstd[group],
                                                coefficients[group]));
  }
}

template <typename T>
void compute_statistics(const Tensor& x, const GroupNormShape& s, float eps, const Tensor& mean, const Tensor& rstd) {
  const Tensor partial = scratch_doubles(2 * s.n * s.chunks * s.c);
  auto* partial_data = reinterpret_cast<double2*>(partial.raw());
  if (s.hw > 0 && s.c > 0) {
    launch_kernel(shifted_sums_kernel<T>, chunk_grid(s), threads_for_columns(s.c), device_data<T>(x), s, partial_data);
  }
  launch_kernel(group_statistics_kernel<T>, grid_for(s.n * s.groups), kThreads, device_data<T>(x), partial_data, s, eps,
                device_data<float>(mean), device_data<float>(rstd));
}

template <bool kSilu, bool kDropout, typename T>
void forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps, const Dropout& dropout,
             const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const GroupNormShape s = shape_of(x, groups);
  if (s.n == 0) return;
  compute_statistics<T>(x, s, eps, mean, rstd);
  if (x.numel() == 0) return;
  launch_kernel(normalize_kernel<kSilu, kDropout, T>, grid_for(element_blocks(s)), kThreads, device_data<T>(x),
                device_data<float>(gamma), device_data<float>(beta), device_data<float>(mean), device_data<float>(rstd),
                s, dropout_draw(dropout), device_data<T>(y));
}

// Group norm's backward from `gradient`, the gradient at the normalisation's output: dy (G = T) or the fused op's
// fp32 g (G = float). dx may alias the gradient.
template <typename T, typename G>
void backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int groups,
              const G* gradient, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  const GroupNormShape s = shape_of(x, groups);
  if (s.n == 0 || s.c == 0) return;
  const Tensor partial = scratch_doubles(2 * s.n * s.chunks * s.c), totals = scratch_doubles(2 * s.n * s.c);
  auto* partial_data = reinterpret_cast<double2*>(partial.raw());
  auto* totals_data = reinterpret_cast<double2*>(totals.raw());
  if (s.hw > 0) {
    launch_kernel(gradient_sums_kernel<T, G>, chunk_grid(s), threads_for_columns(s.c), device_data<T>(x), gradient,
                  device_data<float>(mean), s, partial_data);
  }
  launch_kernel(channel_totals_kernel, grid_for(s.n * s.c), kThreads, partial_data, s, totals_data);
  if (dgamma.defined() || dbeta.defined()) {
    launch_kernel(parameter_gradients_kernel, grid_for(s.c), kThreads, totals_data, device_data<float>(rstd), s,
                  dgamma.defined() ? device_data<float>(dgamma) : nullptr,
                  dbeta.defined() ? device_data<float>(dbeta) : nullptr);
  }
  if (!dx.defined() || x.numel() == 0) return;
  const Tensor coefficients = Tensor::empty({2 * s.n * s.groups}, DType::F32, kKernelDevice);
  auto* coefficient_data = reinterpret_cast<GroupNormGradCoefficients*>(coefficients.raw());
  launch_kernel(input_gradient_coefficients_kernel, grid_for(s.n * s.groups), kThreads, totals_data,
                device_data<float>(gamma), device_data<float>(rstd), s, coefficient_data);
  launch_kernel(input_gradient_kernel<T, G>, grid_for(x.numel()), kThreads, device_data<T>(x), gradient,
                device_data<float>(gamma), device_data<float>(mean), device_data<float>(rstd), coefficient_data, s,
                device_data<T>(dx));
}

}  // namespace

void CudaBackend::group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                                     const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  with_storage_type(x.dtype(), [&](auto tag) {
    forward<false, false, decltype(tag)>(x, gamma, beta, groups, eps, Dropout{}, y, mean, rstd);
  });
}

void CudaBackend::group_norm_silu_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups,
                                          float eps, const Dropout& dropout, const Tensor& y, const Tensor& mean,
                                          const Tensor& rstd) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto run = dropout.p > 0.0f ? forward<true, true, T> : forward<true, false, T>;
    run(x, gamma, beta, groups, eps, dropout, y, mean, rstd);
  });
}

void CudaBackend::group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                      int groups, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                                      const Tensor& dbeta) {
  if (!dx.defined() && !dgamma.defined() && !dbeta.defined()) return;
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    backward<T>(x, gamma, mean, rstd, groups, device_data<T>(dy), dx, dgamma, dbeta);
  });
}

void CudaBackend::group_norm_silu_backward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                                           const Tensor& rstd, int groups, const Dropout& dropout, const Tensor& dy,
                                           const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  if (!dx.defined() && !dgamma.defined() && !dbeta.defined()) return;
  const GroupNormShape s = shape_of(x, groups);
  // g goes into dx when dx is fp32 (group norm's backward reads each element before writing it), else into fp32
  // scratch: rounding g to dx's type would round twice.
  const Tensor g = dx.defined() && dx.dtype() == DType::F32 ? dx : Tensor::empty(x.shape(), DType::F32, kKernelDevice);
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (x.numel() > 0) {
      const auto kernel = dropout.p > 0.0f ? activation_gradient_kernel<true, T> : activation_gradient_kernel<false, T>;
      launch_kernel(kernel, grid_for(element_blocks(s)), kThreads, device_data<T>(x), device_data<T>(dy),
                    device_data<float>(gamma), device_data<float>(beta), device_data<float>(mean),
                    device_data<float>(rstd), s, dropout_draw(dropout), device_data<float>(g));
    }
    backward<T>(x, gamma, mean, rstd, groups, device_data<float>(g), dx, dgamma, dbeta);
  });
}

}  // namespace diffuse::cuda
