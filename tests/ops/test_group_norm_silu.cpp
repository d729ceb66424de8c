// The fused group norm + SiLU + dropout op (core/cpu/group_norm.cpp): forward
// and backward against the three ops it replaces, backward against central
// finite differences, and its slot contract (dx may alias dy, undefined slots
// skipped, no dependence on the thread count).
#include <gtest/gtest.h>
#include <omp.h>

#include <string>
#include <vector>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::cast_to;
using testing::expect_close;
using testing::expect_gradient;
using testing::GradCheck;
using testing::project;
using testing::random_tensor;

constexpr float kEps = 1e-5f;

// One call's inputs and outputs; loss = project(y, w).
struct FusedProblem {
  FusedProblem(const Shape& shape, int groups_in, float p, uint64_t seed)
      : groups(groups_in),
        dropout{p, ops::DropoutKey{seed, 3, 40, 2}},
        x(random_tensor(shape, seed, -2.0f, 2.0f)),
        gamma(random_tensor({shape[3]}, seed + 1, 0.5f, 1.5f)),
        beta(random_tensor({shape[3]}, seed + 2, -0.5f, 0.5f)),
        w(random_tensor(shape, seed + 3)),
        y(Tensor::empty(shape)),
        mean(Tensor::empty({shape[0], groups_in})),
        rstd(Tensor::empty({shape[0], groups_in})) {}

  double loss() const {
    ops::group_norm_silu_forward(x, gamma, beta, groups, kEps, dropout, y, mean, rstd);
    return project(y, w);
  }

  // Forward, then backward with dy = w into the given slots.
  void backward(const Tensor& dy, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) const {
    loss();
    ops::group_norm_silu_backward(x, gamma, beta, mean, rstd, groups, dropout, dy, dx, dgamma, dbeta);
  }

  int groups;
  ops::Dropout dropout;
  Tensor x, gamma, beta, w, y, mean, rstd;
};

// The unfused chain: group_norm, silu and dropout, forward and backward, each op writing a new tensor.
struct ChainResult {
  Tensor y, mean, rstd, dx, dgamma, dbeta;
};

ChainResult unfused_chain(const FusedProblem& problem) {
  const Shape& shape = problem.x.shape();
  const int64_t c = shape[3];
  ChainResult r{Tensor::empty(shape),
                Tensor::empty(problem.mean.shape()),
                Tensor::empty(problem.rstd.shape()),
                Tensor::empty(shape),
                Tensor::zeros({c}),
                Tensor::zeros({c})};
  const Tensor normalized = Tensor::empty(shape), activated = Tensor::empty(shape);
  ops::group_norm_forward(problem.x, problem.gamma, problem.beta, problem.groups, kEps, normalized, r.mean, r.rstd);
  ops::silu_forward(normalized, activated);
  ops::dropout_forward(activated, problem.dropout.p, problem.dropout.key, r.y);
  const Tensor d_activated = Tensor::empty(shape), d_normalized = Tensor::empty(shape);
  ops::dropout_backward(problem.w, problem.dropout.p, problem.dropout.key, d_activated);
  ops::silu_backward(normalized, d_activated, d_normalized);
  ops::group_norm_backward(problem.x, problem.gamma, r.mean, r.rstd, problem.groups, d_normalized, r.dx, r.dgamma,
                           r.dbeta);
  return r;
}

struct Case {
  Shape shape;
  int groups;
  float p;
};

// Without and with dropout; odd sizes, channels not a multiple of four (Philox blocks straddle pixels), one
// channel per group, and a map large enough for threads, several reduction chunks and several dropout tiles.
const Case kCases[] = {{{2, 5, 5, 6}, 3, 0.0f},   {{2, 5, 5, 6}, 3, 0.3f},  {{3, 7, 3, 10}, 5, 0.5f},
                       {{2, 4, 4, 16}, 16, 0.2f}, {{1, 1, 1, 8}, 4, 0.4f},  {{2, 24, 24, 64}, 32, 0.1f},
                       {{2, 40, 40, 8}, 2, 0.3f}, {{1, 9, 9, 96}, 32, 0.0f}};

std::string describe(const Case& test) {
  return shape_string(test.shape) + " groups " + std::to_string(test.groups) + " p " + std::to_string(test.p);
}

TEST(GroupNormSiluForward, MatchesTheUnfusedOps) {
  uint64_t seed = 700;
  for (const Case& test : kCases) {
    const FusedProblem problem(test.shape, test.groups, test.p, seed);
    seed += 10;
    problem.loss();
    const ChainResult expected = unfused_chain(problem);
    // The same statistics code, so the same bits; the same element formulas, which the compiler may contract
    // differently in the fused loop (an fma), so y to the last bit or two.
    expect_close(problem.mean, expected.mean, 0.0, 0.0, "mean " + describe(test));
    expect_close(problem.rstd, expected.rstd, 0.0, 0.0, "rstd " + describe(test));
    expect_close(problem.y, expected.y, 1e-6, 1e-7, "y " + describe(test));
  }
}

TEST(GroupNormSiluBackward, MatchesTheUnfusedOps) {
  uint64_t seed = 800;
  for (const Case& test : kCases) {
    const FusedProblem problem(test.shape, test.groups, test.p, seed);
    seed += 10;
    const int64_t c = test.shape[3];
    const Tensor dx = Tensor::empty(test.shape), dgamma = Tensor::zeros({c}), dbeta = Tensor::zeros({c});
    problem.backward(problem.w, dx, dgamma, dbeta);
    const ChainResult expected = unfused_chain(problem);
    // g = dropout(dy) * SiLU'(normalized) is computed by the same formulas; the sums run in double in the same
    // order, so only the last bits of dx may differ.
    expect_close(dx, expected.dx, 1e-6, 1e-7, "dx " + describe(test));
    expect_close(dgamma, expected.dgamma, 1e-6, 1e-7, "dgamma " + describe(test));
    expect_close(dbeta, expected.dbeta, 1e-6, 1e-7, "dbeta " + describe(test));
  }
}

void check_fused_gradients(const Case& test, uint64_t seed) {
  const FusedProblem problem(test.shape, test.groups, test.p, seed);
  const int64_t c = test.shape[3];
  const Tensor dx = Tensor::empty(test.shape), dgamma = Tensor::zeros({c}), dbeta = Tensor::zeros({c});
  problem.backward(problem.w, dx, dgamma, dbeta);
  // As GroupNormGrad: step 1e-2 on inputs of size ~1, where SiLU is smooth too; the dropout mask does not move with
  // the inputs, so it only rescales the kept elements by 1 / (1 - p) <= 2.
  GradCheck options;
  options.step = 1e-2;
  options.rtol = 2e-3;
  options.atol = 5e-4;
  const auto loss = [&] { return problem.loss(); };
  expect_gradient("dx " + describe(test), problem.x, dx, loss, options);
  expect_gradient("dgamma " + describe(test), problem.gamma, dgamma, loss, options);
  expect_gradient("dbeta " + describe(test), problem.beta, dbeta, loss, options);
}

TEST(GroupNormSiluGrad, FiniteDifferences) { check_fused_gradients({{2, 4, 4, 12}, 4, 0.0f}, 900); }
TEST(GroupNormSiluGrad, FiniteDifferencesWithDropout) { check_fused_gradients({{2, 5, 3, 12}, 3, 0.3f}, 910); }

TEST(GroupNormSiluBackward, DxMayAliasDyAndSlotsMayBeSkipped) {
  const Case test{{2, 6, 6, 16}, 4, 0.25f};
  const FusedProblem problem(test.shape, test.groups, test.p, 950);
  const Tensor dx = Tensor::empty(test.shape), dgamma = Tensor::zeros({16}), dbeta = Tensor::zeros({16});
  problem.backward(problem.w, dx, dgamma, dbeta);

  // dx written over dy: the same values (each element is read before it is written).
  const Tensor dy_then_dx = Tensor::empty(test.shape);
  ops::scale(problem.w, 1.0f, dy_then_dx);
  problem.backward(dy_then_dx, dy_then_dx, Tensor(), Tensor());
  expect_close(dy_then_dx, dx, 0.0, 0.0, "dx aliasing dy");

  // Parameter gradients alone (no dx to hold g) equal those computed with dx.
  const Tensor only_dgamma = Tensor::zeros({16}), only_dbeta = Tensor::zeros({16});
  problem.backward(problem.w, Tensor(), only_dgamma, Tensor());
  problem.backward(problem.w, Tensor(), Tensor(), only_dbeta);
  problem.backward(problem.w, Tensor(), Tensor(), Tensor());
  expect_close(only_dgamma, dgamma, 0.0, 0.0, "dgamma alone");
  expect_close(only_dbeta, dbeta, 0.0, 0.0, "dbeta alone");
}

TEST(GroupNormSiluForward, SameBitsForAnyThreadCount) {
  const Case test{{2, 24, 24, 64}, 32, 0.2f};
  const FusedProblem problem(test.shape, test.groups, test.p, 980);
  const int saved_threads = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (const int threads : {1, 3}) {
    omp_set_num_threads(threads);
    const Tensor dx = Tensor::empty(test.shape), dgamma = Tensor::zeros({64}), dbeta = Tensor::zeros({64});
    problem.backward(problem.w, dx, dgamma, dbeta);
    std::vector<float> all;
    for (const Tensor& t : {problem.y, problem.mean, problem.rstd, dx, dgamma, dbeta}) {
      const std::vector<float> values = to_vector(t);
      all.insert(all.end(), values.begin(), values.end());
    }
    results.push_back(all);
  }
  omp_set_num_threads(saved_threads);
  EXPECT_TRUE(results[0] == results[1]) << "results differ between 1 and 3 threads";
}

// A bf16 backward keeps g in fp32 scratch a few samples at a time (2.6 MB per sample here, so one per block):
// blocks change nothing, dropout keys and parameter-gradient sums included. dx is the fp32 path's rounded exactly,
// dgamma and dbeta are the fp32 path's, and dx may alias dy.
TEST(GroupNormSiluBackward, Bf16InSampleBlocksIsTheRoundedFp32Result) {
  const Shape shape{3, 32, 32, 640};
  const int groups = 32;
  const ops::Dropout dropout{0.2f, ops::DropoutKey{5, 2, 7, 3}};
  const Tensor x = cast_to(cast_to(random_tensor(shape, 61, -2.0f, 2.0f), DType::BF16), DType::F32);  // bf16 values
  const Tensor dy = cast_to(cast_to(random_tensor(shape, 62), DType::BF16), DType::F32);
  const Tensor gamma = random_tensor({640}, 63, 0.5f, 1.5f), beta = random_tensor({640}, 64, -0.5f, 0.5f);
  const Tensor mean = Tensor::empty({3, groups}), rstd = Tensor::empty({3, groups});
  ops::group_norm_silu_forward(x, gamma, beta, groups, kEps, dropout, Tensor::empty(shape), mean, rstd);

  const Tensor dx = Tensor::empty(shape), dgamma = Tensor::zeros({640}), dbeta = Tensor::zeros({640});
  ops::group_norm_silu_backward(x, gamma, beta, mean, rstd, groups, dropout, dy, dx, dgamma, dbeta);
  const Tensor low_dy = cast_to(dy, DType::BF16), low_dgamma = Tensor::zeros({640}), low_dbeta = Tensor::zeros({640});
  ops::group_norm_silu_backward(cast_to(x, DType::BF16), gamma, beta, mean, rstd, groups, dropout, low_dy, low_dy,
                                low_dgamma, low_dbeta);
  expect_close(low_dy, cast_to(dx, DType::BF16), 0.0, 0.0, "dx");
  expect_close(low_dgamma, dgamma, 0.0, 0.0, "dgamma");
  expect_close(low_dbeta, dbeta, 0.0, 0.0, "dbeta");
}

}  // namespace
}  // namespace diffuse
