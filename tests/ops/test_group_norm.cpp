// Group normalisation (core/cpu/group_norm.cpp): forward against a
// double-precision loop, backward against central finite differences, and the
// gradient-slot contract (dx written, dgamma/dbeta accumulated, undefined
// slots skipped).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::expect_close;
using testing::expect_gradient;
using testing::from_doubles;
using testing::GradCheck;
using testing::project;
using testing::random_tensor;

constexpr float kEps = 1e-5f;

struct NaiveGroupNorm {
  Tensor y, mean, rstd;
};

// Textbook two-pass group norm in double, rounded to fp32 once at the end.
NaiveGroupNorm naive_group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, double eps) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3), cg = c / groups;
  const float* xp = x.f32();
  NaiveGroupNorm out{Tensor::empty(x.shape()), Tensor::empty({n, groups}), Tensor::empty({n, groups})};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      double sum = 0.0, squares = 0.0;
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) sum += xp[(i * hw + p) * c + ch];
      const double mean = sum / static_cast<double>(hw * cg);
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
          const double d = xp[(i * hw + p) * c + ch] - mean;
          squares += d * d;
        }
      const double rstd = 1.0 / std::sqrt(squares / static_cast<double>(hw * cg) + eps);
      out.mean.f32()[i * groups + g] = static_cast<float>(mean);
      out.rstd.f32()[i * groups + g] = static_cast<float>(rstd);
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
          const int64_t at = (i * hw + p) * c + ch;
          out.y.f32()[at] = static_cast<float>((xp[at] - mean) * rstd * gamma.f32()[ch] + beta.f32()[ch]);
        }
    }
  return out;
}

struct Case {
  Shape shape;
  int groups;
};

// Odd spatial sizes, batch 1, the U-Net's 32 groups, few groups, one channel per group, one element per group, and
// one large enough for the threaded path and several reduction chunks.
const Case kCases[] = {{{1, 5, 5, 6}, 3},   {{2, 7, 7, 6}, 3}, {{2, 4, 4, 64}, 32}, {{3, 5, 3, 12}, 4},
                       {{2, 3, 3, 12}, 12}, {{1, 1, 1, 8}, 8}, {{1, 17, 19, 4}, 1}, {{2, 32, 32, 64}, 32}};

TEST(GroupNormForward, MatchesNaiveLoop) {
  uint64_t seed = 100;
  for (const Case& test : kCases) {
    const int64_t c = test.shape[3];
    const Tensor x = random_tensor(test.shape, seed++, -2.0f, 2.0f);
    const Tensor gamma = random_tensor({c}, seed++, 0.5f, 1.5f);
    const Tensor beta = random_tensor({c}, seed++, -0.5f, 0.5f);
    const Tensor y = Tensor::empty(test.shape);
    const Tensor mean = Tensor::empty({test.shape[0], test.groups});
    const Tensor rstd = Tensor::empty({test.shape[0], test.groups});
    ops::group_norm_forward(x, gamma, beta, test.groups, kEps, y, mean, rstd);
    const NaiveGroupNorm expected = naive_group_norm(x, gamma, beta, test.groups, kEps);
    const std::string what = shape_string(test.shape) + " groups " + std::to_string(test.groups);
    // y: a handful of fp32 roundings on values of order 1 (xhat up to ~3, gamma ~1), so ~1e-6.
    expect_close(y, expected.y, 1e-5, 1e-5, "y " + what);
    // mean: one rounding of a double mean of |x| <= 2.
    expect_close(mean, expected.mean, 1e-6, 1e-7, "mean " + what);
    // rstd: one rounding of a double; single-element groups give 1/sqrt(eps) exactly as in the reference.
    expect_close(rstd, expected.rstd, 1e-6, 0.0, "rstd " + what);
  }
}

TEST(GroupNormForward, LargeMeanIsStable) {
  // x = 100 + U(-1, 1): E[x^2] - E[x]^2 in fp32 would lose ~1% of the variance; the two-pass double scheme must not.
  const Shape shape{2, 8, 8, 16};
  Tensor x = random_tensor(shape, 7, 99.0f, 101.0f);
  const Tensor gamma = random_tensor({16}, 8, 0.5f, 1.5f), beta = random_tensor({16}, 9, -0.5f, 0.5f);
  const Tensor y = Tensor::empty(shape), mean = Tensor::empty({2, 4}), rstd = Tensor::empty({2, 4});
  ops::group_norm_forward(x, gamma, beta, 4, kEps, y, mean, rstd);
  const NaiveGroupNorm expected = naive_group_norm(x, gamma, beta, 4, kEps);
  // The saved fp32 mean near 100 is off by up to half an ulp (3.8e-6), shifting xhat by that times rstd (~1.7).
  expect_close(y, expected.y, 1e-5, 2e-5, "y with mean 100");
  expect_close(rstd, expected.rstd, 1e-6, 0.0, "rstd with mean 100");
}

TEST(GroupNormForward, ResultDoesNotDependOnChunking) {
  // 40x40 pixels span several 256-pixel reduction chunks; compare with the naive single loop.
  const Shape shape{1, 40, 40, 8};
  const Tensor x = random_tensor(shape, 11, -1.0f, 1.0f);
  const Tensor gamma = random_tensor({8}, 12, 0.5f, 1.5f), beta = random_tensor({8}, 13, -0.5f, 0.5f);
  const Tensor y = Tensor::empty(shape), mean = Tensor::empty({1, 2}), rstd = Tensor::empty({1, 2});
  ops::group_norm_forward(x, gamma, beta, 2, kEps, y, mean, rstd);
  const NaiveGroupNorm expected = naive_group_norm(x, gamma, beta, 2, kEps);
  // Same reasoning as MatchesNaiveLoop: a few fp32 roundings of O(1) values.
  expect_close(y, expected.y, 1e-5, 1e-5, "y 40x40");
  expect_close(mean, expected.mean, 1e-6, 1e-7, "mean 40x40");
}

struct NaiveGroupNormGrad {
  Tensor dx, dgamma, dbeta;
};

// dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma, dgamma = sum dy xhat, dbeta = sum dy; in double.
NaiveGroupNormGrad naive_group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& dy, int groups,
                                             double eps) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3), cg = c / groups;
  const double count = static_cast<double>(hw * cg);
  const float *xp = x.f32(), *gp = gamma.f32(), *dyp = dy.f32();
  std::vector<double> dx(static_cast<size_t>(x.numel())), dgamma(static_cast<size_t>(c)), dbeta(static_cast<size_t>(c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      const auto each = [&](const auto& body) {
        for (int64_t p = 0; p < hw; ++p)
          for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) body((i * hw + p) * c + ch, ch);
      };
      double sum = 0.0, squares = 0.0, sum_g = 0.0, sum_g_xhat = 0.0;
      each([&](int64_t at, int64_t) { sum += xp[at]; });
      const double mean = sum / count;
      each([&](int64_t at, int64_t) { squares += (xp[at] - mean) * (xp[at] - mean); });
      const double rstd = 1.0 / std::sqrt(squares / count + eps);
      each([&](int64_t at, int64_t ch) {
        const double xhat = (xp[at] - mean) * rstd;
        sum_g += static_cast<double>(dyp[at]) * gp[ch];
        sum_g_xhat += static_cast<double>(dyp[at]) * gp[ch] * xhat;
        dgamma[static_cast<size_t>(ch)] += dyp[at] * xhat;
        dbeta[static_cast<size_t>(ch)] += dyp[at];
      });
      each([&](int64_t at, int64_t ch) {
        const double xhat = (xp[at] - mean) * rstd;
        dx[static_cast<size_t>(at)] =
            rstd * (static_cast<double>(dyp[at]) * gp[ch] - sum_g / count - xhat * sum_g_xhat / count);
      });
    }
  return {from_doubles(dx, x.shape()), from_doubles(dgamma, {c}), from_doubles(dbeta, {c})};
}

TEST(GroupNormBackward, MatchesNaiveLoop) {
  uint64_t seed = 150;
  for (const Case& test : kCases) {
    const int64_t c = test.shape[3];
    const Tensor x = random_tensor(test.shape, seed++, -2.0f, 2.0f), dy = random_tensor(test.shape, seed++);
    const Tensor gamma = random_tensor({c}, seed++, 0.5f, 1.5f), beta = random_tensor({c}, seed++, -0.5f, 0.5f);
    const Tensor y = Tensor::empty(test.shape);
    const Tensor mean = Tensor::empty({test.shape[0], test.groups}), rstd = Tensor::empty({test.shape[0], test.groups});
    ops::group_norm_forward(x, gamma, beta, test.groups, kEps, y, mean, rstd);
    const Tensor dx = Tensor::empty(test.shape), dgamma = Tensor::zeros({c}), dbeta = Tensor::zeros({c});
    ops::group_norm_backward(x, gamma, mean, rstd, test.groups, dy, dx, dgamma, dbeta);
    const NaiveGroupNormGrad expected = naive_group_norm_backward(x, gamma, dy, test.groups, kEps);
    const std::string what = shape_string(test.shape) + " groups " + std::to_string(test.groups);
    // The op works from the fp32-rounded mean and rstd (relative error ~6e-8, amplified by |xhat| <= ~3) and rounds
    // dx once per term: ~1e-6 on gradients of size ~1.
    expect_close(dx, expected.dx, 1e-5, 1e-5, "dx " + what);
    // Sums over N*H*W of O(1) terms (up to ~2000 here), accumulated in double: the fp32 statistics dominate again.
    expect_close(dgamma, expected.dgamma, 1e-5, 1e-5, "dgamma " + what);
    expect_close(dbeta, expected.dbeta, 1e-6, 1e-6, "dbeta " + what);
  }
}

TEST(GroupNormForward, SameBitsForAnyThreadCount) {
  // Reductions run over fixed pixel chunks combined in a fixed order, so the thread count cannot change a bit;
  // reruns and different machines then agree exactly.
  const Shape shape{2, 24, 24, 64};
  const Tensor x = random_tensor(shape, 500, -1.0f, 1.0f), dy = random_tensor(shape, 501);
  const Tensor gamma = random_tensor({64}, 502, 0.5f, 1.5f), beta = random_tensor({64}, 503, -0.5f, 0.5f);
  const int saved_threads = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (const int threads : {1, 3}) {
    omp_set_num_threads(threads);
    const Tensor y = Tensor::empty(shape), mean = Tensor::empty({2, 32}), rstd = Tensor::empty({2, 32});
    const Tensor dx = Tensor::empty(shape), dgamma = Tensor::zeros({64}), dbeta = Tensor::zeros({64});
    ops::group_norm_forward(x, gamma, beta, 32, kEps, y, mean, rstd);
    ops::group_norm_backward(x, gamma, mean, rstd, 32, dy, dx, dgamma, dbeta);
    std::vector<float> all;
    for (const Tensor& t : {y, mean, rstd, dx, dgamma, dbeta}) {
      const std::vector<float> values = to_vector(t);
      all.insert(all.end(), values.begin(), values.end());
    }
    results.push_back(all);
  }
  omp_set_num_threads(saved_threads);
  EXPECT_TRUE(results[0] == results[1]) << "results differ between 1 and 3 threads";
}

// Inputs and gradients of one group norm call, with loss = project(y, w).
struct GroupNormProblem {
  GroupNormProblem(const Shape& shape, int groups_in, uint64_t seed)
      : groups(groups_in),
        x(random_tensor(shape, seed, -1.0f, 1.0f)),
        gamma(random_tensor({shape[3]}, seed + 1, 0.5f, 1.5f)),
        beta(random_tensor({shape[3]}, seed + 2, -0.5f, 0.5f)),
        w(random_tensor(shape, seed + 3, -1.0f, 1.0f)),
        y(Tensor::empty(shape)),
        mean(Tensor::empty({shape[0], groups_in})),
        rstd(Tensor::empty({shape[0], groups_in})) {}

  double loss() const {
    ops::group_norm_forward(x, gamma, beta, groups, kEps, y, mean, rstd);
    return project(y, w);
  }

  // Runs forward, then backward with dy = w into the given slots.
  void backward(const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) const {
    loss();
    ops::group_norm_backward(x, gamma, mean, rstd, groups, w, dx, dgamma, dbeta);
  }

  int groups;
  Tensor x, gamma, beta, w, y, mean, rstd;
};

void check_group_norm_gradients(const Shape& shape, int groups, uint64_t seed) {
  const GroupNormProblem problem(shape, groups, seed);
  const Tensor dx = Tensor::empty(shape), dgamma = Tensor::zeros({shape[3]}), dbeta = Tensor::zeros({shape[3]});
  problem.backward(dx, dgamma, dbeta);
  // x ~ U(-1, 1) gives rstd ~ 1.7 and groups of >= 9 elements, so the loss is smooth on the scale of the step.
  // Step 1e-2 balances truncation (~step^2 * rstd^3) against the fp32 noise of the loss (~1e-6 / step); measured
  // worst errors are ~7e-5 on gradients of size ~1-3 (5e-4 at step 1e-3, 2e-3 at 1e-1), so atol 5e-4 has ~7x margin.
  GradCheck options;
  options.step = 1e-2;
  options.rtol = 2e-3;
  options.atol = 5e-4;
  const auto loss = [&] { return problem.loss(); };
  const std::string what = shape_string(shape) + " groups " + std::to_string(groups);
  expect_gradient("group_norm dx " + what, problem.x, dx, loss, options);
  expect_gradient("group_norm dgamma " + what, problem.gamma, dgamma, loss, options);
  expect_gradient("group_norm dbeta " + what, problem.beta, dbeta, loss, options);
}

TEST(GroupNormGrad, ThirtyTwoGroupsOf64Channels) { check_group_norm_gradients({2, 4, 4, 64}, 32, 200); }
TEST(GroupNormGrad, FourGroupsOf12Channels) { check_group_norm_gradients({2, 5, 3, 12}, 4, 210); }
TEST(GroupNormGrad, GroupsEqualChannels) { check_group_norm_gradients({2, 3, 3, 6}, 6, 220); }
TEST(GroupNormGrad, OddSizesBatchOne) { check_group_norm_gradients({1, 7, 5, 6}, 3, 230); }

TEST(GroupNormGrad, ShiftInvariantForLargeMean) {
  // Group norm ignores a constant shift, so x + 100 must give the gradients of x. Finite differences cannot probe
  // this regime (x +- step rounds at 100), but the comparison can: it fails if the backward loses x - mean.
  const Shape shape{2, 4, 4, 12};
  const GroupNormProblem centred(shape, 4, 250), shifted(shape, 4, 250);
  for (int64_t i = 0; i < shifted.x.numel(); ++i) shifted.x.f32()[i] += 100.0f;
  const Tensor dx = Tensor::empty(shape), dgamma = Tensor::zeros({12}), dbeta = Tensor::zeros({12});
  const Tensor dx_shifted = Tensor::empty(shape), dgamma_shifted = Tensor::zeros({12}),
               dbeta_shifted = Tensor::zeros({12});
  centred.backward(dx, dgamma, dbeta);
  shifted.backward(dx_shifted, dgamma_shifted, dbeta_shifted);
  // Adding 100 in fp32 moves each x by up to half an ulp (3.8e-6); with rstd ~1.7 and sums over 48-element groups
  // that perturbs gradients of size ~1 by ~1e-5.
  expect_close(dx_shifted, dx, 1e-4, 1e-4, "dx at mean 100");
  expect_close(dgamma_shifted, dgamma, 1e-4, 1e-4, "dgamma at mean 100");
  expect_close(dbeta_shifted, dbeta, 1e-6, 1e-6, "dbeta at mean 100");
}

TEST(GroupNormGrad, ParameterGradientsAccumulateAndDxIsWritten) {
  const Shape shape{2, 4, 4, 12};
  const GroupNormProblem problem(shape, 4, 300);
  const Tensor fresh_dx = Tensor::empty(shape), fresh_dgamma = Tensor::zeros({12}), fresh_dbeta = Tensor::zeros({12});
  problem.backward(fresh_dx, fresh_dgamma, fresh_dbeta);

  // Slots holding earlier contributions (dx holding garbage that must be overwritten).
  const Tensor dx = random_tensor(shape, 301, 5.0f, 6.0f);
  const Tensor dgamma = random_tensor({12}, 302), dbeta = random_tensor({12}, 303);
  const std::vector<float> gamma_before = to_vector(dgamma), beta_before = to_vector(dbeta);
  problem.backward(dx, dgamma, dbeta);
  problem.backward(dx, dgamma, dbeta);

  std::vector<float> gamma_expected(12), beta_expected(12);
  for (int c = 0; c < 12; ++c) {
    gamma_expected[c] = gamma_before[c] + 2.0f * fresh_dgamma.f32()[c];
    beta_expected[c] = beta_before[c] + 2.0f * fresh_dbeta.f32()[c];
  }
  // Two fp32 additions of O(1) values.
  expect_close(dgamma, from_vector(gamma_expected, {12}), 1e-6, 1e-6, "dgamma += twice");
  expect_close(dbeta, from_vector(beta_expected, {12}), 1e-6, 1e-6, "dbeta += twice");
  // dx is written, not accumulated: same arithmetic, so bit-identical.
  expect_close(dx, fresh_dx, 0.0, 0.0, "dx written");
}

TEST(GroupNormGrad, UndefinedSlotsAreSkipped) {
  const Shape shape{2, 3, 5, 8};
  const GroupNormProblem problem(shape, 2, 400);
  const Tensor dx = Tensor::empty(shape), dgamma = Tensor::zeros({8}), dbeta = Tensor::zeros({8});
  problem.backward(dx, dgamma, dbeta);

  // Each slot alone gives the same values as all three together (same arithmetic, so exact).
  const Tensor only_dx = Tensor::empty(shape), only_dgamma = Tensor::zeros({8}), only_dbeta = Tensor::zeros({8});
  problem.backward(only_dx, Tensor(), Tensor());
  problem.backward(Tensor(), only_dgamma, Tensor());
  problem.backward(Tensor(), Tensor(), only_dbeta);
  problem.backward(Tensor(), Tensor(), Tensor());
  expect_close(only_dx, dx, 0.0, 0.0, "dx alone");
  expect_close(only_dgamma, dgamma, 0.0, 0.0, "dgamma alone");
  expect_close(only_dbeta, dbeta, 0.0, 0.0, "dbeta alone");
}

}  // namespace
}  // namespace diffuse
