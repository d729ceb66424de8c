// Timestep and class-label embeddings: forward against naive loops, gradients
// by finite differences, accumulation into dtable and label range errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::expect_close;
using testing::expect_gradient;
using testing::from_doubles;
using testing::random_tensor;

// The DDPM formula written out independently of core/math/embedding.h.
std::vector<double> naive_timestep_embedding(const std::vector<float>& t, int64_t width) {
  const int64_t half = width / 2;
  std::vector<double> out(t.size() * width);
  for (size_t n = 0; n < t.size(); ++n) {
    for (int64_t i = 0; i < half; ++i) {
      const double frequency = std::exp(-std::log(10000.0) * static_cast<double>(i) / static_cast<double>(half - 1));
      out[n * width + i] = std::sin(t[n] * frequency);
      out[n * width + half + i] = std::cos(t[n] * frequency);
    }
  }
  return out;
}

Tensor labels_tensor(const std::vector<int32_t>& values) {
  Tensor labels = Tensor::empty({static_cast<int64_t>(values.size())}, DType::I32);
  for (size_t i = 0; i < values.size(); ++i) labels.i32()[i] = values[i];
  return labels;
}

TEST(TimestepEmbedding, ForwardMatchesNaiveLoop) {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 4}, {3, 6}, {5, 32}, {7, 130}, {64, 128}};
  uint64_t seed = 1;
  for (const auto& [n, width] : shapes) {
    const Tensor t = random_tensor({n}, seed++, 0.0f, 1000.0f);  // DDPM timesteps reach 999
    const Tensor out = Tensor::empty({n, width});
    ops::timestep_embedding_forward(t, out);
    const Tensor expected = from_doubles(naive_timestep_embedding(to_vector(t), width), {n, width});
    // Angles are computed in double in both; only the final rounding to f32 differs (<= 6e-8 for |x| <= 1).
    expect_close(out, expected, 0.0, 2e-7, "timestep embedding " + shape_string(out.shape()));
  }
}

TEST(TimestepEmbedding, KnownValues) {
  const Tensor t = from_vector({0.0f, 1.0f}, {2});
  const Tensor out = Tensor::empty({2, 8});
  ops::timestep_embedding_forward(t, out);
  const std::vector<float> y = to_vector(out);
  // t = 0: all sines 0 and all cosines 1, exactly.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], 0.0f);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(y[i], 1.0f);
  // t = 1: f_0 = 1 and f_{H-1} = 1e-4 (the ends of the geometric range); tolerance is f32 rounding.
  EXPECT_NEAR(y[8], std::sin(1.0), 1e-7);
  EXPECT_NEAR(y[8 + 3], std::sin(1e-4), 1e-11);
  EXPECT_NEAR(y[8 + 4 + 3], std::cos(1e-4), 1e-7);
}

TEST(TimestepEmbeddingGrad, Dt) {
  for (const auto& [n, width] : std::vector<std::pair<int64_t, int64_t>>{{1, 4}, {5, 6}, {3, 40}}) {
    // Small t so a +-1e-2 step is exact in f32 and the O(step^2 f^3) truncation stays tiny.
    const Tensor t = random_tensor({n}, 11 + n, 0.0f, 5.0f);
    const Tensor projection = random_tensor({n, width}, 21 + n);
    const Tensor out = Tensor::empty({n, width});
    const Tensor dt = Tensor::empty({n});
    ops::timestep_embedding_backward(t, projection, dt);
    expect_gradient("timestep_embedding dt " + std::to_string(width), t, dt, [&] {
      ops::timestep_embedding_forward(t, out);
      return testing::project(out, projection);
    });
  }
}

TEST(TimestepEmbeddingGrad, BackwardMatchesNaiveLoop) {
  const int64_t n = 9, width = 18, half = width / 2;
  const Tensor t = random_tensor({n}, 5, 0.0f, 1000.0f);
  const Tensor dout = random_tensor({n, width}, 6);
  const Tensor dt = Tensor::empty({n});
  ops::timestep_embedding_backward(t, dout, dt);
  const std::vector<float> time = to_vector(t), dy = to_vector(dout);
  std::vector<double> expected(n);
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t i = 0; i < half; ++i) {
      const double f = std::exp(-std::log(10000.0) * i / (half - 1.0));
      expected[s] +=
          dy[s * width + i] * f * std::cos(time[s] * f) - dy[s * width + half + i] * f * std::sin(time[s] * f);
    }
  }
  // Double accumulation of 9 terms of size <= 1, one f32 rounding at the end.
  expect_close(dt, from_doubles(expected, {n}), 1e-6, 1e-6, "timestep embedding dt");
}

TEST(Embedding, ForwardMatchesNaiveLoop) {
  struct Case {
    int64_t classes, width;
    std::vector<int32_t> labels;
  };
  const std::vector<Case> cases = {{1, 1, {0}}, {11, 7, {10}}, {11, 7, {3, 0, 10, 3, 5}}, {4, 33, {2, 2, 1, 3, 0, 1}}};
  uint64_t seed = 100;
  for (const Case& c : cases) {
    const int64_t n = static_cast<int64_t>(c.labels.size());
    const Tensor table = random_tensor({c.classes, c.width}, seed++);
    const Tensor out = Tensor::empty({n, c.width});
    ops::embedding_forward(table, labels_tensor(c.labels), out);
    std::vector<float> expected;
    const std::vector<float> rows = to_vector(table);
    for (int32_t label : c.labels)
      for (int64_t d = 0; d < c.width; ++d) expected.push_back(rows[label * c.width + d]);
    // A row copy: exact.
    expect_close(out, from_vector(expected, {n, c.width}), 0.0, 0.0, "embedding rows");
  }
}

TEST(Embedding, LabelOutOfRangeThrowsNamingLabelAndK) {
  const Tensor table = random_tensor({10, 4}, 1);
  const Tensor out = Tensor::zeros({3, 4});
  for (int32_t bad : {10, -1, 1234567}) {
    const Tensor labels = labels_tensor({0, bad, 2});
    for (int pass = 0; pass < 2; ++pass) {
      try {
        if (pass == 0)
          ops::embedding_forward(table, labels, out);
        else
          ops::embedding_backward(labels, out, Tensor::zeros({10, 4}));
        ADD_FAILURE() << "label " << bad << " was accepted";
      } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("label " + std::to_string(bad)), std::string::npos) << message;
        EXPECT_NE(message.find("K=10"), std::string::npos) << message;
      }
    }
  }
  // Checked before writing: the output is untouched.
  for (float value : to_vector(out)) EXPECT_EQ(value, 0.0f);
}

TEST(EmbeddingGrad, Dtable) {
  const std::vector<int32_t> labels = {3, 0, 3, 6, 3, 1};  // repeats: rows collect several samples
  const int64_t classes = 7, width = 5, n = static_cast<int64_t>(labels.size());
  const Tensor table = random_tensor({classes, width}, 31);
  const Tensor projection = random_tensor({n, width}, 32);
  const Tensor label_tensor = labels_tensor(labels);
  const Tensor out = Tensor::empty({n, width});
  const Tensor dtable = Tensor::zeros({classes, width});
  ops::embedding_backward(label_tensor, projection, dtable);
  testing::GradCheck options;
  options.max_elements = classes * width;  // every row, including the untouched ones (gradient 0)
  expect_gradient(
      "embedding dtable", table, dtable,
      [&] {
        ops::embedding_forward(table, label_tensor, out);
        return testing::project(out, projection);
      },
      options);
}

TEST(EmbeddingGrad, Accumulates) {
  const std::vector<int32_t> labels = {2, 2, 0, 4};
  const int64_t classes = 5, width = 3;
  const Tensor dout = random_tensor({4, width}, 41);
  const Tensor dtable = random_tensor({classes, width}, 42);  // earlier micro-batches' gradient
  const std::vector<float> before = to_vector(dtable), dy = to_vector(dout);
  ops::embedding_backward(labels_tensor(labels), dout, dtable);
  std::vector<double> expected(before.begin(), before.end());
  for (size_t s = 0; s < labels.size(); ++s)
    for (int64_t d = 0; d < width; ++d) expected[labels[s] * width + d] += dy[s * width + d];
  // At most three f32 additions of values below 1.
  expect_close(dtable, from_doubles(expected, {classes, width}), 0.0, 1e-6, "dtable += scatter");
}

}  // namespace
}  // namespace diffuse
