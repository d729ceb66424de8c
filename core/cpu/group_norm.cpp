// Group normalisation on the CPU: NHWC fp32, statistics per (sample, group)
// over H*W*(C/groups) elements.
//
// Each sample's pixels are cut into fixed chunks; a chunk accumulates one double
// per channel (contiguous, so the inner loop vectorises), and chunks are reduced
// in a fixed order, so results do not depend on the number of threads. The
// variance is two-pass (mean first, then centred squares), which stays exact
// when the mean is large compared with the spread.
#include "core/math/group_norm.h"

#include <algorithm>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"

namespace diffuse::cpu {

namespace {

constexpr int64_t kChunkPixels = 256;

int64_t chunk_count(int64_t pixels) { return (pixels + kChunkPixels - 1) / kChunkPixels; }

// totals[i*width + j] = sum over chunks k of partial[(i*chunks + k)*width + j], in chunk order.
std::vector<double> reduce_chunks(const std::vector<double>& partial, int64_t n, int64_t chunks, int64_t width) {
  std::vector<double> totals(static_cast<size_t>(n * width), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < chunks; ++k) {
      const double* source = partial.data() + (i * chunks + k) * width;
      double* target = totals.data() + i * width;
      for (int64_t j = 0; j < width; ++j) target[j] += source[j];
    }
  return totals;
}

}  // namespace

void CpuBackend::group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                                    const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3), cg = c / groups;
  const int64_t chunks = chunk_count(hw), count = hw * cg;
  const bool parallel = worth_threads(n * hw * c);
  const float* xp = x.f32();
  const float* gp = gamma.f32();
  const float* bp = beta.f32();
  float* yp = y.f32();
  float* mp = mean.f32();
  float* rp = rstd.f32();
  std::vector<double> partial(static_cast<size_t>(n * chunks * c));

  // Pass 1: per-channel sums -> group means.
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < chunks; ++k) {
      double* sum = partial.data() + (i * chunks + k) * c;
      std::fill(sum, sum + c, 0.0);
      for (int64_t p = k * kChunkPixels; p < std::min(hw, (k + 1) * kChunkPixels); ++p) {
        const float* row = xp + (i * hw + p) * c;
        for (int64_t ch = 0; ch < c; ++ch) sum[ch] += row[ch];
      }
    }
  const std::vector<double> channel_sums = reduce_chunks(partial, n, chunks, c);
  std::vector<double> group_mean(static_cast<size_t>(n * groups)), channel_mean(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      double total = 0.0;
      for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) total += channel_sums[static_cast<size_t>(i * c + ch)];
      const double m = count > 0 ? total / static_cast<double>(count) : 0.0;  // empty groups (C or H*W is 0): 0
      group_mean[static_cast<size_t>(i * groups + g)] = m;
      // Broadcast so pass 2 reads one value per channel.
      for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) channel_mean[static_cast<size_t>(i * c + ch)] = m;
    }

    // Pass 2: per-channel centred squares -> group variances.
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < chunks; ++k) {
      double* sum = partial.data() + (i * chunks + k) * c;
      const double* centre = channel_mean.data() + i * c;
      std::fill(sum, sum + c, 0.0);
      for (int64_t p = k * kChunkPixels; p < std::min(hw, (k + 1) * kChunkPixels); ++p) {
        const float* row = xp + (i * hw + p) * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          const double d = row[ch] - centre[ch];
          sum[ch] += d * d;
        }
      }
    }
  const std::vector<double> channel_squares = reduce_chunks(partial, n, chunks, c);

  // Per (sample, channel) mean and scale = rstd * gamma for pass 3.
  std::vector<float> row_mean(static_cast<size_t>(n * c)), row_scale(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      double squares = 0.0;
      for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) squares += channel_squares[static_cast<size_t>(i * c + ch)];
      const float mean_f = static_cast<float>(group_mean[static_cast<size_t>(i * groups + g)]);
      const float group_rstd = group_norm_rstd(count > 0 ? squares / static_cast<double>(count) : 0.0, eps);
      mp[i * groups + g] = mean_f;
      rp[i * groups + g] = group_rstd;
      for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
        row_mean[static_cast<size_t>(i * c + ch)] = mean_f;
        row_scale[static_cast<size_t>(i * c + ch)] = group_rstd * gp[ch];
      }
    }

    // Pass 3: normalise. Each element is read before it is written, so y may alias x.
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      const float* in = xp + (i * hw + p) * c;
      float* out = yp + (i * hw + p) * c;
      const float* m = row_mean.data() + i * c;
      const float* s = row_scale.data() + i * c;
      for (int64_t ch = 0; ch < c; ++ch) out[ch] = group_norm_output(in[ch], m[ch], s[ch], bp[ch]);
    }
}

void CpuBackend::group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                     int groups, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                                     const Tensor& dbeta) {
  if (!dx.defined() && !dgamma.defined() && !dbeta.defined()) return;
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3), cg = c / groups;
  const int64_t chunks = chunk_count(hw), count = hw * cg;
  const bool parallel = worth_threads(n * hw * c);
  const float* xp = x.f32();
  const float* gp = gamma.f32();
  const float* mp = mean.f32();
  const float* rp = rstd.f32();
  const float* dyp = dy.f32();

  // Saved statistics broadcast per (sample, channel).
  std::vector<float> row_mean(static_cast<size_t>(n * c)), row_rstd(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      row_mean[static_cast<size_t>(i * c + ch)] = mp[i * groups + ch / cg];
      row_rstd[static_cast<size_t>(i * c + ch)] = rp[i * groups + ch / cg];
    }

  // Per-channel sums of dy and dy * (x - mean); a chunk's slot holds both, side by side.
  std::vector<double> partial(static_cast<size_t>(n * chunks * 2 * c));
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < chunks; ++k) {
      double* sum_dy = partial.data() + (i * chunks + k) * 2 * c;
      double* sum_dy_centred = sum_dy + c;
      const float* m = row_mean.data() + i * c;
      std::fill(sum_dy, sum_dy + 2 * c, 0.0);
      for (int64_t p = k * kChunkPixels; p < std::min(hw, (k + 1) * kChunkPixels); ++p) {
        const float* in = xp + (i * hw + p) * c;
        const float* grad = dyp + (i * hw + p) * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          sum_dy[ch] += grad[ch];
          sum_dy_centred[ch] += static_cast<double>(grad[ch]) * (static_cast<double>(in[ch]) - m[ch]);
        }
      }
    }
  const std::vector<double> totals = reduce_chunks(partial, n, chunks, 2 * c);

  // Parameter gradients accumulate, summed over the batch in double first.
  if (dgamma.defined() || dbeta.defined()) {
    std::vector<double> gamma_sum(static_cast<size_t>(c), 0.0), beta_sum(static_cast<size_t>(c), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch) {
        const double* t = totals.data() + i * 2 * c;
        gamma_sum[static_cast<size_t>(ch)] += row_rstd[static_cast<size_t>(i * c + ch)] * t[c + ch];
        beta_sum[static_cast<size_t>(ch)] += t[ch];
      }
    if (dgamma.defined()) {
      float* out = dgamma.f32();
      for (int64_t ch = 0; ch < c; ++ch) out[ch] += static_cast<float>(gamma_sum[static_cast<size_t>(ch)]);
    }
    if (dbeta.defined()) {
      float* out = dbeta.f32();
      for (int64_t ch = 0; ch < c; ++ch) out[ch] += static_cast<float>(beta_sum[static_cast<size_t>(ch)]);
    }
  }
  if (!dx.defined()) return;

  // dx coefficients per (sample, group), broadcast per channel. Kept as separate arrays rather than structs so
  // the final loop reads each contiguously.
  std::vector<float> row_mean_g(static_cast<size_t>(n * c)), row_slope(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      const double* t = totals.data() + i * 2 * c;
      double sum_g = 0.0, sum_g_centred = 0.0;
      for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
        sum_g += gp[ch] * t[ch];
        sum_g_centred += gp[ch] * t[c + ch];
      }
      const GroupNormGradCoefficients k = group_norm_grad_coefficients(sum_g, sum_g_centred, rp[i * groups + g], count);
      for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
        row_mean_g[static_cast<size_t>(i * c + ch)] = k.mean_g;
        row_slope[static_cast<size_t>(i * c + ch)] = k.slope;
      }
    }

  float* dxp = dx.f32();
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      const float* in = xp + (i * hw + p) * c;
      const float* grad = dyp + (i * hw + p) * c;
      float* out = dxp + (i * hw + p) * c;
      const float* m = row_mean.data() + i * c;
      const float* r = row_rstd.data() + i * c;
      const float* mean_g = row_mean_g.data() + i * c;
      const float* slope = row_slope.data() + i * c;
      for (int64_t ch = 0; ch < c; ++ch)
        out[ch] = group_norm_input_grad(grad[ch], in[ch], gp[ch], m[ch], r[ch],
                                        GroupNormGradCoefficients{mean_g[ch], slope[ch]});
    }
}

}  // namespace diffuse::cpu
