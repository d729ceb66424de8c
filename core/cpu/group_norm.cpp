// Group normalisation on the CPU, alone and fused with SiLU and dropout
// (group_norm_silu_*): NHWC, statistics per (sample, group) over
// H*W*(C/groups) elements, with the element formulas of core/math.
// Activations (x, y, dy, dx) are f32, bf16 or f16, one type per call; every
// loop is templated on it, widens on load and rounds once on store, while
// parameters, statistics and sums stay fp32 or double.
//
// Every pass walks fixed chunks of a sample's pixels. Sums accumulate one
// double per channel (contiguous, so the inner loop vectorises) and chunks are
// reduced in a fixed order, so results do not depend on the number of threads.
// Forward statistics come from one read of x: sums about a per-channel shift,
// merged with Chan's formula (GroupMoments), as the CUDA backend does.
//
// The fused forward writes only dropout(SiLU(normalized)). Its backward
// recomputes normalized and the mask from x, the statistics and the key: the
// first pass writes g = d(SiLU input) into dx while it sums, the second turns
// dx into the input gradient in place (g stays fp32: with bf16 or f16 dx it
// goes to a scratch buffer instead, one block of samples at a time). Plain
// group norm is the same code with the activation and dropout compiled out.
#include "core/math/group_norm.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/cpu/uniform_batch.h"
#include "core/float_storage.h"
#include "core/math/activation.h"
#include "core/math/dropout.h"

namespace diffuse::cpu {

namespace {

constexpr int64_t kChunkPixels = 256;    // pixels per reduction chunk
constexpr int64_t kTileElements = 4096;  // elements per dropout draw inside a chunk

struct Layout {
  int64_t n, hw, c, groups, cg, chunks;
  int64_t count() const { return hw * cg; }  // elements per group
};

Layout layout_of(const Tensor& x, int groups) {
  const int64_t hw = x.dim(1) * x.dim(2);
  return Layout{x.dim(0), hw, x.dim(3), groups, x.dim(3) / groups, (hw + kChunkPixels - 1) / kChunkPixels};
}

// Per-(sample, group) values broadcast to per-(sample, channel), times factor[channel] when given: the element
// loops then read one value per channel.
std::vector<float> per_channel(const float* per_group, const Layout& s, const float* factor = nullptr) {
  std::vector<float> out(static_cast<size_t>(s.n * s.c));
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t ch = 0; ch < s.c; ++ch)
      out[static_cast<size_t>(i * s.c + ch)] = per_group[i * s.groups + ch / s.cg] * (factor ? factor[ch] : 1.0f);
  return out;
}

// Calls body(sample, chunk) for every chunk of every sample, in parallel.
template <typename Body>
void for_each_chunk(const Layout& s, const Body& body) {
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(s.n * s.hw * s.c))
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t k = 0; k < s.chunks; ++k) body(i, k);
}

// The pixels of chunk k in order, cut into tiles whose dropout uniforms fit a small buffer: body(first, last).
template <typename Body>
void for_each_tile(const Layout& s, int64_t k, const Body& body) {
  const int64_t tile = std::clamp<int64_t>(kTileElements / std::max<int64_t>(s.c, 1), 1, kChunkPixels);
  const int64_t end = std::min(s.hw, (k + 1) * kChunkPixels);
  for (int64_t first = k * kChunkPixels; first < end; first += tile) body(first, std::min(end, first + tile));
}

// The dropout uniforms of pixels [first, last) of sample i, in this thread's buffer.
const float* tile_uniforms(const DropoutKey& key, const Layout& s, int64_t i, int64_t first, int64_t last) {
  thread_local std::vector<float> buffer;
  buffer.resize(static_cast<size_t>((last - first) * s.c));
  const RandomStream stream{key.seed, kPurposeDropoutBase + key.layer, key.step,
                            key.first_sample + static_cast<uint32_t>(i)};
  draw_uniforms(stream, first * s.c, (last - first) * s.c, buffer.data());
  return buffer.data();
}

// A row of `c` floats for this thread: where the fused backward puts g when dx is not wanted.
float* row_scratch(int64_t c) {
  thread_local std::vector<float> buffer;
  buffer.resize(static_cast<size_t>(c));
  return buffer.data();
}

// totals[i*width + j] = sum over chunks k of partial[(i*chunks + k)*width + j], in chunk order.
std::vector<double> reduce_chunks(const std::vector<double>& partial, const Layout& s, int64_t width) {
  std::vector<double> totals(static_cast<size_t>(s.n * width), 0.0);
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t k = 0; k < s.chunks; ++k) {
      const double* source = partial.data() + (i * s.chunks + k) * width;
      double* target = totals.data() + i * width;
      for (int64_t j = 0; j < width; ++j) target[j] += source[j];
    }
  return totals;
}

// mean and rstd [n, groups] of x, from one read.
template <typename T>
void group_statistics(const T* x, const Layout& s, float eps, float* mean, float* rstd) {
  // A chunk's slot holds its per-channel sums and squares about the shift, side by side.
  std::vector<double> partial(static_cast<size_t>(s.n * s.chunks * 2 * s.c));
  for_each_chunk(s, [&](int64_t i, int64_t k) {
    double* sum = partial.data() + (i * s.chunks + k) * 2 * s.c;
    double* squares = sum + s.c;
    std::fill(sum, sum + 2 * s.c, 0.0);
    const T* shift = x + i * s.hw * s.c;
    for (int64_t p = k * kChunkPixels; p < std::min(s.hw, (k + 1) * kChunkPixels); ++p) {
      const T* row = x + (i * s.hw + p) * s.c;
      for (int64_t ch = 0; ch < s.c; ++ch) {
        const double d = static_cast<double>(to_float(row[ch])) - to_float(shift[ch]);
        sum[ch] += d;
        squares[ch] += d * d;
      }
    }
  });
  const std::vector<double> totals = reduce_chunks(partial, s, 2 * s.c);
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t g = 0; g < s.groups; ++g) {
      GroupMoments moments;
      const double* t = totals.data() + i * 2 * s.c;
      for (int64_t ch = g * s.cg; ch < (g + 1) * s.cg; ++ch)
        if (s.hw > 0)
          moments.add_channel(to_float(x[i * s.hw * s.c + ch]), static_cast<double>(s.hw), t[ch], t[s.c + ch]);
      mean[i * s.groups + g] = static_cast<float>(moments.mean);
      rstd[i * s.groups + g] = group_norm_rstd(moments.variance(), eps);
    }
}

// What the element loops of one call read: the statistics and parameters per (sample, channel) or channel.
struct ChannelTerms {
  std::vector<float> mean;   // [n*c] the group mean
  std::vector<float> scale;  // [n*c] rstd * gamma: normalized = (x - mean) * scale + beta
  const float* beta;         // [c]
};

ChannelTerms channel_terms(const Layout& s, const float* mean, const float* rstd, const float* gamma,
                           const float* beta) {
  return ChannelTerms{per_channel(mean, s), per_channel(rstd, s, gamma), beta};
}

// y = dropout(SiLU(normalized)), either step compiled in or out; y may alias x.
template <bool kSilu, bool kDropout, typename T>
void write_output(const T* x, const Layout& s, const ChannelTerms& terms, const Dropout& dropout, T* y) {
  const float p = dropout.p, keep_scale = dropout_scale(p);
  for_each_chunk(s, [&](int64_t i, int64_t k) {
    for_each_tile(s, k, [&](int64_t first, int64_t last) {
      const float* uniforms = kDropout ? tile_uniforms(dropout.key, s, i, first, last) : nullptr;
      const float* m = terms.mean.data() + i * s.c;
      const float* scale = terms.scale.data() + i * s.c;
      for (int64_t pixel = first; pixel < last; ++pixel) {
        const T* in = x + (i * s.hw + pixel) * s.c;
        T* out = y + (i * s.hw + pixel) * s.c;
        const float* u = kDropout ? uniforms + (pixel - first) * s.c : nullptr;
#pragma omp simd
        for (int64_t ch = 0; ch < s.c; ++ch) {
          float value = group_norm_output(to_float(in[ch]), m[ch], scale[ch], terms.beta[ch]);
          if constexpr (kSilu) value = silu(value);
          if constexpr (kDropout) value = dropout_apply(value, u[ch], p, keep_scale);
          out[ch] = from_float<T>(value);
        }
      }
    });
  });
}

// Per-channel sums of g and g * (x - mean) for each (sample, chunk), side by side. g = dy for plain group norm;
// for the fused op g = dropout(dy) * SiLU'(normalized), the gradient at the normalisation's output, also written
// to `g_out` when it is not null (it may alias dy).
template <bool kSilu, bool kDropout, typename T>
std::vector<double> gradient_sums(const T* x, const T* dy, const Layout& s, const ChannelTerms& terms,
                                  const Dropout& dropout, float* g_out) {
  const float p = dropout.p, keep_scale = dropout_scale(p);
  std::vector<double> partial(static_cast<size_t>(s.n * s.chunks * 2 * s.c));
  for_each_chunk(s, [&](int64_t i, int64_t k) {
    double* sum_g = partial.data() + (i * s.chunks + k) * 2 * s.c;
    double* sum_g_centred = sum_g + s.c;
    std::fill(sum_g, sum_g + 2 * s.c, 0.0);
    const float* m = terms.mean.data() + i * s.c;
    const float* scale = terms.scale.data() + i * s.c;
    for_each_tile(s, k, [&](int64_t first, int64_t last) {
      const float* uniforms = kDropout ? tile_uniforms(dropout.key, s, i, first, last) : nullptr;
      for (int64_t pixel = first; pixel < last; ++pixel) {
        const int64_t at = (i * s.hw + pixel) * s.c;
        const T* in = x + at;
        const auto add_sums = [&](const auto* g) {
          for (int64_t ch = 0; ch < s.c; ++ch) {
            const float grad = to_float(g[ch]);
            sum_g[ch] += grad;
            sum_g_centred[ch] += static_cast<double>(grad) * (static_cast<double>(to_float(in[ch])) - m[ch]);
          }
        };
        if constexpr (kSilu) {
          // g first, in a loop of its own so that it vectorizes; then the sums read it back.
          float* out = g_out ? g_out + at : row_scratch(s.c);
          const T* grad_out = dy + at;
          const float* u = kDropout ? uniforms + (pixel - first) * s.c : nullptr;
#pragma omp simd
          for (int64_t ch = 0; ch < s.c; ++ch) {
            float grad = to_float(grad_out[ch]);
            if constexpr (kDropout) grad = dropout_apply(grad, u[ch], p, keep_scale);
            out[ch] = grad * silu_derivative(group_norm_output(to_float(in[ch]), m[ch], scale[ch], terms.beta[ch]));
          }
          add_sums(out);
        } else {
          add_sums(dy + at);
        }
      }
    });
  });
  return partial;
}

template <bool kSilu, bool kDropout, typename T>
void forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps, const Dropout& dropout,
             const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const Layout s = layout_of(x, groups);
  group_statistics(storage_data<T>(x), s, eps, mean.f32(), rstd.f32());
  const ChannelTerms terms = channel_terms(s, mean.f32(), rstd.f32(), gamma.f32(), beta.f32());
  write_output<kSilu, kDropout>(storage_data<T>(x), s, terms, dropout, storage_data<T>(y));
}

// dx from the gradient at the normalisation's output (dy, or the fused op's fp32 g) and the per-channel terms.
// Each element is read before it is written, so dx may alias the gradient.
template <typename T, typename G>
void write_input_gradient(const T* x, const G* gradient, const float* gamma, const Layout& s, const ChannelTerms& terms,
                          const std::vector<float>& row_rstd, const std::vector<float>& row_mean_g,
                          const std::vector<float>& row_slope, T* dx) {
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(s.n * s.hw * s.c))
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t p = 0; p < s.hw; ++p) {
      const int64_t at = (i * s.hw + p) * s.c;
      const float* m = terms.mean.data() + i * s.c;
      const float* r = row_rstd.data() + i * s.c;
      const float* mean_g = row_mean_g.data() + i * s.c;
      const float* slope = row_slope.data() + i * s.c;
      for (int64_t ch = 0; ch < s.c; ++ch)
        dx[at + ch] =
            from_float<T>(group_norm_input_grad(to_float(gradient[at + ch]), to_float(x[at + ch]), gamma[ch], m[ch],
                                                r[ch], GroupNormGradCoefficients{mean_g[ch], slope[ch]}));
    }
}

template <bool kSilu, bool kDropout, typename T>
void backward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& rstd,
              int groups, const Dropout& dropout, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
              const Tensor& dbeta) {
  if (!dx.defined() && !dgamma.defined() && !dbeta.defined()) return;
  const Layout whole = layout_of(x, groups);
  const float* gp = gamma.f32();
  // The fused op keeps g for the last pass: in dx when dx is fp32, else in fp32 scratch (rounding g to dx's type
  // would round twice), which blocks of samples hold to a few MiB. A sample's statistics and gradients are its
  // own and its dropout key is its global index, so blocks change no result. Plain group norm reads dy there.
  constexpr int64_t kScratchBytes = int64_t{4} << 20;
  const bool g_in_scratch = kSilu && dx.defined() && !std::is_same_v<T, float>;
  const int64_t block = g_in_scratch
                            ? std::max<int64_t>(1, kScratchBytes / std::max<int64_t>(1, whole.hw * whole.c * 4))
                            : std::max<int64_t>(1, whole.n);
  Tensor g_scratch;
  if (g_in_scratch) g_scratch = Tensor::empty({std::min(block, whole.n) * whole.hw * whole.c}, DType::F32);
  // Parameter gradients accumulate, summed over the batch in double first, sample by sample.
  std::vector<double> gamma_sum(static_cast<size_t>(whole.c), 0.0), beta_sum(static_cast<size_t>(whole.c), 0.0);

  for (int64_t first = 0; first < whole.n; first += block) {
    Layout s = whole;
    s.n = std::min(whole.n, first + block) - first;
    const int64_t offset = first * whole.hw * whole.c;
    const T* xp = storage_data<T>(x) + offset;
    const T* dyp = storage_data<T>(dy) + offset;
    T* dxp = dx.defined() ? storage_data<T>(dx) + offset : nullptr;
    const float* rp = rstd.f32() + first * groups;
    Dropout block_dropout = dropout;
    block_dropout.key.first_sample += static_cast<uint32_t>(first);
    // Plain group norm needs no beta (its backward reads no normalized values).
    const ChannelTerms terms =
        channel_terms(s, mean.f32() + first * groups, rp, gp, beta.defined() ? beta.f32() : nullptr);
    float* g_buffer = nullptr;
    if (g_in_scratch) {
      g_buffer = g_scratch.f32();
    } else if constexpr (kSilu && std::is_same_v<T, float>) {
      g_buffer = dxp;  // null when dx is not wanted
    }
    const std::vector<double> totals =
        reduce_chunks(gradient_sums<kSilu, kDropout>(xp, dyp, s, terms, block_dropout, g_buffer), s, 2 * s.c);

    for (int64_t i = 0; i < s.n; ++i)
      for (int64_t ch = 0; ch < s.c; ++ch) {
        const double* t = totals.data() + i * 2 * s.c;
        gamma_sum[static_cast<size_t>(ch)] += rp[i * s.groups + ch / s.cg] * t[s.c + ch];
        beta_sum[static_cast<size_t>(ch)] += t[ch];
      }
    if (!dx.defined()) continue;

    // dx coefficients per (sample, group), broadcast per channel. Kept as separate arrays rather than structs so
    // the final loop reads each contiguously.
    std::vector<float> row_mean_g(static_cast<size_t>(s.n * s.c)), row_slope(static_cast<size_t>(s.n * s.c));
    for (int64_t i = 0; i < s.n; ++i)
      for (int64_t g = 0; g < s.groups; ++g) {
        const double* t = totals.data() + i * 2 * s.c;
        double sum_g = 0.0, sum_g_centred = 0.0;
        for (int64_t ch = g * s.cg; ch < (g + 1) * s.cg; ++ch) {
          sum_g += gp[ch] * t[ch];
          sum_g_centred += gp[ch] * t[s.c + ch];
        }
        const GroupNormGradCoefficients k =
            group_norm_grad_coefficients(sum_g, sum_g_centred, rp[i * s.groups + g], s.count());
        std::fill(row_mean_g.begin() + i * s.c + g * s.cg, row_mean_g.begin() + i * s.c + (g + 1) * s.cg, k.mean_g);
        std::fill(row_slope.begin() + i * s.c + g * s.cg, row_slope.begin() + i * s.c + (g + 1) * s.cg, k.slope);
      }
    const std::vector<float> row_rstd = per_channel(rp, s);

    if constexpr (kSilu) {
      write_input_gradient(xp, g_buffer, gp, s, terms, row_rstd, row_mean_g, row_slope, dxp);
    } else {
      write_input_gradient(xp, dyp, gp, s, terms, row_rstd, row_mean_g, row_slope, dxp);
    }
  }

  for (int64_t ch = 0; ch < whole.c; ++ch) {
    if (dgamma.defined()) dgamma.f32()[ch] += static_cast<float>(gamma_sum[static_cast<size_t>(ch)]);
    if (dbeta.defined()) dbeta.f32()[ch] += static_cast<float>(beta_sum[static_cast<size_t>(ch)]);
  }
}

}  // namespace

void CpuBackend::group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                                    const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  with_storage_type(x.dtype(), [&](auto tag) {
    forward<false, false, decltype(tag)>(x, gamma, beta, groups, eps, Dropout{}, y, mean, rstd);
  });
}

void CpuBackend::group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                     int groups, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                                     const Tensor& dbeta) {
  with_storage_type(x.dtype(), [&](auto tag) {
    backward<false, false, decltype(tag)>(x, gamma, Tensor(), mean, rstd, groups, Dropout{}, dy, dx, dgamma, dbeta);
  });
}

void CpuBackend::group_norm_silu_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups,
                                         float eps, const Dropout& dropout, const Tensor& y, const Tensor& mean,
                                         const Tensor& rstd) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto run = dropout.p > 0.0f ? forward<true, true, T> : forward<true, false, T>;
    run(x, gamma, beta, groups, eps, dropout, y, mean, rstd);
  });
}

void CpuBackend::group_norm_silu_backward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                                          const Tensor& rstd, int groups, const Dropout& dropout, const Tensor& dy,
                                          const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto run = dropout.p > 0.0f ? backward<true, true, T> : backward<true, false, T>;
    run(x, gamma, beta, mean, rstd, groups, dropout, dy, dx, dgamma, dbeta);
  });
}

}  // namespace diffuse::cpu
