// attention_forward / attention_backward on the CPU backend, with one head and
// several: outputs and saved probabilities against a double-precision loop (also with logits large enough
// to overflow an unshifted exp), the q, k and v gradients by central finite
// differences, and backward writing dqkv in full.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

struct AttentionCase {
  int64_t batch, tokens, channels;
  int heads = 1;

  Shape qkv_shape() const { return {batch, tokens, 3 * channels}; }
  Shape part_shape() const { return {batch, tokens, channels}; }  // q, k, v and out
  Shape probs_shape() const { return {batch * heads, tokens, tokens}; }
  std::string name() const { return concat("N=", batch, " L=", tokens, " C=", channels, " heads=", heads); }
};

struct AttentionReference {
  Tensor out, probs;
};

// Per head h: softmax(q_h k_h^T / sqrt(D)) v_h in double over channels [h*D, (h+1)*D) of q, k and v, the
// max-shifted softmax computed the textbook way.
AttentionReference reference_attention(const AttentionCase& c, const Tensor& qkv) {
  const int64_t L = c.tokens, C = c.channels, D = c.channels / c.heads;
  AttentionReference result{Tensor::empty(c.part_shape()), Tensor::empty(c.probs_shape())};
  std::vector<double> scores(L);
  for (int64_t n = 0; n < c.batch; ++n) {
    const float* packed = qkv.f32() + n * L * 3 * C;
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < L; ++i) {
        for (int64_t j = 0; j < L; ++j) {
          double dot = 0.0;
          for (int64_t ch = h * D; ch < (h + 1) * D; ++ch)
            dot += static_cast<double>(packed[i * 3 * C + ch]) * packed[j * 3 * C + C + ch];
          scores[j] = dot / std::sqrt(static_cast<double>(D));
        }
        const double max_score = *std::max_element(scores.begin(), scores.end());
        double total = 0.0;
        for (double& s : scores) total += (s = std::exp(s - max_score));
        for (int64_t j = 0; j < L; ++j)
          result.probs.f32()[((n * c.heads + h) * L + i) * L + j] = static_cast<float>(scores[j] / total);
        for (int64_t ch = h * D; ch < (h + 1) * D; ++ch) {
          double sum = 0.0;
          for (int64_t j = 0; j < L; ++j) sum += scores[j] / total * packed[j * 3 * C + 2 * C + ch];
          result.out.f32()[(n * L + i) * C + ch] = static_cast<float>(sum);
        }
      }
  }
  return result;
}

void check_forward(const AttentionCase& c, uint64_t seed, float magnitude, double rtol, double atol) {
  const Tensor qkv = testing::random_tensor(c.qkv_shape(), seed, -magnitude, magnitude);
  // Both must be written, not accumulated into.
  const Tensor out = testing::nan_tensor(c.part_shape()), probs = testing::nan_tensor(c.probs_shape());
  ops::attention_forward(qkv, out, probs, c.heads);
  const AttentionReference expected = reference_attention(c, qkv);
  testing::expect_close(probs, expected.probs, rtol, atol, "attention probs " + c.name());
  testing::expect_close(out, expected.out, rtol, atol, "attention out " + c.name());
}

TEST(AttentionForward, MatchesReference) {
  // fp32 GEMMs and softmax vs double loop; inputs in [-1, 1) give logits of order one.
  for (const AttentionCase& c : {AttentionCase{1, 1, 1}, AttentionCase{1, 4, 3}, AttentionCase{2, 7, 5},
                                 AttentionCase{3, 16, 8}, AttentionCase{2, 33, 16}, AttentionCase{2, 160, 8}})
    check_forward(c, 100 + c.tokens, 1.0f, 1e-4, 1e-5);
}

TEST(AttentionForward, LargeLogitsStayFinite) {
  // Inputs in [-30, 30) give logits up to ~1800, where exp overflows unless the row max is subtracted. The
  // fp32 logits carry absolute errors ~1e-7 * 1800, which become relative errors of the probabilities.
  for (const AttentionCase& c : {AttentionCase{1, 6, 4}, AttentionCase{2, 9, 4}})
    check_forward(c, 7, 30.0f, 1e-3, 1e-3);
}

TEST(AttentionForward, SeveralHeadsMatchReference) {
  for (const AttentionCase& c :
       {AttentionCase{1, 4, 6, 2}, AttentionCase{2, 7, 12, 3}, AttentionCase{2, 33, 16, 4}, AttentionCase{2, 5, 8, 8}})
    check_forward(c, 200 + c.tokens, 1.0f, 1e-4, 1e-5);
}

// One of the three parts of qkv as its own tensor, so each gets its own gradient check.
Tensor extract_part(const Tensor& qkv, const AttentionCase& c, int part) {
  Tensor result = Tensor::empty(c.part_shape());
  for (int64_t token = 0; token < c.batch * c.tokens; ++token)
    std::copy_n(qkv.f32() + token * 3 * c.channels + part * c.channels, c.channels, result.f32() + token * c.channels);
  return result;
}

void pack_parts(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionCase& c, const Tensor& qkv) {
  const Tensor parts[3] = {q, k, v};
  for (int part = 0; part < 3; ++part)
    for (int64_t token = 0; token < c.batch * c.tokens; ++token)
      std::copy_n(parts[part].f32() + token * c.channels, c.channels,
                  qkv.f32() + token * 3 * c.channels + part * c.channels);
}

void check_gradients(const AttentionCase& c, uint64_t seed, int max_elements = 1 << 20) {
  // Inputs in [-2, 2) make the softmax clearly nonlinear.
  const Tensor q = testing::random_tensor(c.part_shape(), seed, -2.0f, 2.0f);
  const Tensor k = testing::random_tensor(c.part_shape(), seed + 1, -2.0f, 2.0f);
  const Tensor v = testing::random_tensor(c.part_shape(), seed + 2, -2.0f, 2.0f);
  const Tensor projection = testing::random_tensor(c.part_shape(), seed + 3);
  Tensor qkv = Tensor::empty(c.qkv_shape()), out = Tensor::empty(c.part_shape());
  Tensor probs = Tensor::empty(c.probs_shape());
  const auto loss = [&] {
    pack_parts(q, k, v, c, qkv);
    ops::attention_forward(qkv, out, probs, c.heads);
    return testing::project(out, projection);
  };
  loss();  // leaves qkv and probs of the unperturbed inputs for backward
  Tensor dqkv = Tensor::empty(c.qkv_shape());
  ops::attention_backward(qkv, probs, projection, dqkv, c.heads);

  // Default step and tolerances: fp32 forward plus O(step^2) truncation. Small shapes have every element probed.
  testing::GradCheck options;
  options.max_elements = max_elements;
  testing::expect_gradient("attention dq " + c.name(), q, extract_part(dqkv, c, 0), loss, options);
  testing::expect_gradient("attention dk " + c.name(), k, extract_part(dqkv, c, 1), loss, options);
  testing::expect_gradient("attention dv " + c.name(), v, extract_part(dqkv, c, 2), loss, options);
}

TEST(AttentionGrad, SmallBatch) { check_gradients({2, 5, 3}, 11); }

TEST(AttentionGrad, BatchOneOddTokens) { check_gradients({1, 9, 4}, 12); }

TEST(AttentionGrad, SingleToken) { check_gradients({2, 1, 3}, 13); }

TEST(AttentionGrad, TwoHeads) { check_gradients({2, 5, 6, 2}, 15); }

TEST(AttentionGrad, FourHeadsOfOneChannel) { check_gradients({1, 6, 4, 4}, 16); }

// Enough scores for the softmax loops to run on several threads; probes spread over each input.
TEST(AttentionGrad, ManyTokensThreaded) { check_gradients({2, 136, 4}, 14, 12); }

// One sample at a time, the softmax backward of the larger case is too small to thread, so this also
// compares the threaded loop element by element with the serial one.
TEST(AttentionBackward, OverwritesDqkvAndMatchesOneSampleAtATime) {
  for (const AttentionCase& c : {AttentionCase{3, 6, 4}, AttentionCase{2, 136, 4}, AttentionCase{3, 6, 4, 2}}) {
    const Tensor qkv = testing::random_tensor(c.qkv_shape(), 21);
    const Tensor dout = testing::random_tensor(c.part_shape(), 22);
    Tensor out = Tensor::empty(c.part_shape()), probs = Tensor::empty(c.probs_shape());
    ops::attention_forward(qkv, out, probs, c.heads);
    Tensor dqkv = Tensor::empty(c.qkv_shape());
    ops::attention_backward(qkv, probs, dout, dqkv, c.heads);

    const Tensor dqkv_again = testing::nan_tensor(c.qkv_shape());
    {
      // A budget below one sample's score gradients makes backward take the samples one at a time.
      const testing::ScratchBudget small(1);
      ops::attention_backward(qkv, probs, dout, dqkv_again, c.heads);
    }
    // The same per-sample GEMMs either way; only BLAS blocking could differ.
    testing::expect_close(dqkv_again, dqkv, 1e-6, 1e-7, "attention dqkv overwritten, one sample at a time " + c.name());
  }
}

}  // namespace
}  // namespace diffuse
