// The row-major GEMM -> column-major BLAS translation (core/gemm_mapping.h): a
// naive column-major GEMM written from the BLAS definition, fed the translated
// arguments, must reproduce a naive row-major GEMM of the original call, for
// every transpose, padded leading dimensions, batch strides (0 included) and
// each GEMM the CUDA backend issues. Operands are small integers and alpha,
// beta powers of two, so every sum is exact and the results must be equal.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gemm_mapping.h"
#include "tests/support/op_testing.h"

namespace diffuse::blas {
namespace {

constexpr float kUntouched = 7777.0f;  // C's padding: nothing may write there
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Row-major reference of the original call: op(A)(i, p) and op(B)(p, j) read from the stored row-major matrices.
void row_major_gemm(const RowMajorGemm& g, const float* a, const float* b, float* c) {
  for (int64_t s = 0; s < g.batch; ++s)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        float sum = 0.0f;
        for (int64_t p = 0; p < g.k; ++p) {
          const float a_ip = g.transpose_a == Transpose::Yes ? a[s * g.a_batch_stride + p * g.lda + i]
                                                             : a[s * g.a_batch_stride + i * g.lda + p];
          const float b_pj = g.transpose_b == Transpose::Yes ? b[s * g.b_batch_stride + j * g.ldb + p]
                                                             : b[s * g.b_batch_stride + p * g.ldb + j];
          sum += a_ip * b_pj;
        }
        float& out = c[s * g.c_batch_stride + i * g.ldc + j];
        out = g.beta == 0.0f ? g.alpha * sum : g.alpha * sum + g.beta * out;
      }
}

// Element (i, j) of op(X) for a column-major X with leading dimension ld: X(i, j) is x[i + j * ld].
float op_element(const float* x, int64_t ld, Op op, int64_t i, int64_t j) {
  return op == Op::N ? x[i + j * ld] : x[j + i * ld];
}

// The BLAS definition of a strided batched GEMM (C = alpha op(A) op(B) + beta C, C not read when beta = 0),
// executed the way core/cuda/gemm.cpp executes the translation, the ClearC case included.
void column_major_gemm(const ColumnMajorGemm& call, const float* row_a, const float* row_b, float* c) {
  if (call.work == Work::Nothing) return;
  if (call.work == Work::ClearC) {
    for (int64_t s = 0; s < call.batch; ++s)
      for (int64_t j = 0; j < call.n; ++j)
        for (int64_t i = 0; i < call.m; ++i) c[s * call.stride_c + i + j * call.ldc] = 0.0f;
    return;
  }
  const float* a = call.a_from == Operand::A ? row_a : row_b;
  const float* b = call.b_from == Operand::A ? row_a : row_b;
  for (int64_t s = 0; s < call.batch; ++s)
    for (int64_t j = 0; j < call.n; ++j)
      for (int64_t i = 0; i < call.m; ++i) {
        float sum = 0.0f;
        for (int64_t p = 0; p < call.k; ++p)
          sum += op_element(a + s * call.stride_a, call.lda, call.op_a, i, p) *
                 op_element(b + s * call.stride_b, call.ldb, call.op_b, p, j);
        float& out = c[s * call.stride_c + i + j * call.ldc];
        out = call.beta == 0.0f ? call.alpha * sum : call.alpha * sum + call.beta * out;
      }
}

std::string describe(const RowMajorGemm& g) {
  return concat("transpose_a ", g.transpose_a == Transpose::Yes, " transpose_b ", g.transpose_b == Transpose::Yes,
                " m ", g.m, " n ", g.n, " k ", g.k, " lda ", g.lda, " ldb ", g.ldb, " ldc ", g.ldc, " strides ",
                g.a_batch_stride, "/", g.b_batch_stride, "/", g.c_batch_stride, " batch ", g.batch, " alpha ", g.alpha,
                " beta ", g.beta);
}

// Runs both references from the same C and compares every element of C's buffer, its padding included.
// `c_offset` places C inside the buffer (a column slice of a wider matrix).
void expect_same_result(const RowMajorGemm& g, const float* a, const float* b, const std::vector<float>& c_initial,
                        size_t c_offset = 0) {
  SCOPED_TRACE(describe(g));
  std::vector<float> expected = c_initial, actual = c_initial;
  row_major_gemm(g, a, b, expected.data() + c_offset);
  column_major_gemm(to_column_major(g), a, b, actual.data() + c_offset);
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(actual[i], expected[i]) << "element " << i << " of C's buffer";
}

// A buffer holding `batch` row-major rows x cols matrices, ld and stride apart: the matrices' elements are random
// integers in [-3, 3] and everything else is `padding`.
std::vector<float> stored_matrices(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch, float padding,
                                   std::mt19937& random) {
  const int64_t size = rows == 0 || cols == 0 ? 1 : (batch - 1) * stride + (rows - 1) * ld + cols;
  std::vector<float> buffer(static_cast<size_t>(size), padding);
  std::uniform_int_distribution<int> value(-3, 3);
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) buffer[static_cast<size_t>(s * stride + r * ld + c)] = value(random);
  return buffer;
}

// C before the call: integers where beta reads them, NaN where beta = 0 must overwrite, kUntouched elsewhere.
std::vector<float> initial_c(const RowMajorGemm& g, std::mt19937& random) {
  std::vector<float> c = stored_matrices(g.m, g.n, g.ldc, g.c_batch_stride, g.batch, kUntouched, random);
  if (g.beta == 0.0f)
    for (int64_t s = 0; s < g.batch; ++s)
      for (int64_t i = 0; i < g.m; ++i)
        for (int64_t j = 0; j < g.n; ++j) c[static_cast<size_t>(s * g.c_batch_stride + i * g.ldc + j)] = kNaN;
  return c;
}

enum class Broadcast { None, A, B };

TEST(GemmMapping, EveryTransposePaddingStrideAndBatchMatchesTheRowMajorDefinition) {
  std::mt19937 random(20240611);
  const struct { int64_t m, n, k; } sizes[] = {{3, 5, 7}, {1, 4, 2}, {6, 1, 3}, {5, 3, 1}};
  const struct { float alpha, beta; } scalings[] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, -0.5f}};
  for (Transpose transpose_a : {Transpose::No, Transpose::Yes})
    for (Transpose transpose_b : {Transpose::No, Transpose::Yes})
      for (const auto& size : sizes)
        for (int64_t padding : {0, 3})
          for (int64_t batch : {1, 3})
            for (Broadcast broadcast : {Broadcast::None, Broadcast::A, Broadcast::B})
              for (const auto& scaling : scalings) {
                RowMajorGemm g;
                g.transpose_a = transpose_a;
                g.transpose_b = transpose_b;
                g.m = size.m;
                g.n = size.n;
                g.k = size.k;
                g.alpha = scaling.alpha;
                g.beta = scaling.beta;
                g.batch = batch;
                // Stored shapes: A is [m,k] or, transposed, [k,m]; B is [k,n] or [n,k].
                const int64_t a_rows = transpose_a == Transpose::Yes ? g.k : g.m, a_cols = g.m + g.k - a_rows;
                const int64_t b_rows = transpose_b == Transpose::Yes ? g.n : g.k, b_cols = g.n + g.k - b_rows;
                g.lda = a_cols + padding;
                g.ldb = b_cols + padding;
                g.ldc = g.n + padding;
                // Batch strides with a gap after each matrix (padding), or 0 for a broadcast operand.
                g.a_batch_stride = broadcast == Broadcast::A ? 0 : a_rows * g.lda + padding;
                g.b_batch_stride = broadcast == Broadcast::B ? 0 : b_rows * g.ldb + padding;
                g.c_batch_stride = g.m * g.ldc + padding;
                // NaN around A and B: reading outside the matrices poisons C.
                const std::vector<float> a =
                    stored_matrices(a_rows, a_cols, g.lda, g.a_batch_stride, batch, kNaN, random);
                const std::vector<float> b =
                    stored_matrices(b_rows, b_cols, g.ldb, g.b_batch_stride, batch, kNaN, random);
                expect_same_result(g, a.data(), b.data(), initial_c(g, random));
                if (HasFatalFailure()) return;
              }
}

TEST(GemmMapping, SwapsTheOperandsAndSizes) {
  RowMajorGemm g;
  g.transpose_a = Transpose::Yes;
  g.m = 2;
  g.n = 3;
  g.k = 4;
  g.lda = 5;
  g.ldb = 6;
  g.ldc = 7;
  g.a_batch_stride = 40;
  g.b_batch_stride = 0;
  g.c_batch_stride = 21;
  g.batch = 2;
  g.alpha = 0.5f;
  g.beta = 1.0f;
  const ColumnMajorGemm call = to_column_major(g);
  EXPECT_EQ(call.work, Work::Gemm);
  EXPECT_EQ(call.a_from, Operand::B);
  EXPECT_EQ(call.b_from, Operand::A);
  EXPECT_EQ(call.op_a, Op::N);
  EXPECT_EQ(call.op_b, Op::T);
  EXPECT_EQ(call.m, 3);
  EXPECT_EQ(call.n, 2);
  EXPECT_EQ(call.k, 4);
  EXPECT_EQ(call.lda, 6);
  EXPECT_EQ(call.ldb, 5);
  EXPECT_EQ(call.ldc, 7);
  EXPECT_EQ(call.stride_a, 0);
  EXPECT_EQ(call.stride_b, 40);
  EXPECT_EQ(call.stride_c, 21);
  EXPECT_EQ(call.batch, 2);
  EXPECT_EQ(call.alpha, 0.5f);
  EXPECT_EQ(call.beta, 1.0f);
}

// core/cuda/linear.cpp, rows x in_features -> out_features, with odd sizes.
TEST(GemmMapping, LinearCallsOfTheCudaBackend) {
  std::mt19937 random(7);
  const int64_t rows = 7, in_features = 5, out_features = 3;
  const std::vector<float> x = stored_matrices(rows, in_features, in_features, 0, 1, kNaN, random);
  const std::vector<float> weight = stored_matrices(out_features, in_features, in_features, 0, 1, kNaN, random);
  const std::vector<float> dy = stored_matrices(rows, out_features, out_features, 0, 1, kNaN, random);
  for (float beta : {0.0f, 1.0f}) {  // y = x weight^T, onto the broadcast bias when there is one
    RowMajorGemm forward;
    forward.transpose_b = Transpose::Yes;
    forward.m = rows;
    forward.n = out_features;
    forward.k = in_features;
    forward.beta = beta;
    forward.lda = in_features;
    forward.ldb = in_features;
    forward.ldc = out_features;
    expect_same_result(forward, x.data(), weight.data(), initial_c(forward, random));
  }
  RowMajorGemm input_grad;  // dx = dy weight
  input_grad.m = rows;
  input_grad.n = in_features;
  input_grad.k = out_features;
  input_grad.lda = out_features;
  input_grad.ldb = in_features;
  input_grad.ldc = in_features;
  expect_same_result(input_grad, dy.data(), weight.data(), initial_c(input_grad, random));
  RowMajorGemm weight_grad;  // dweight += dy^T x
  weight_grad.transpose_a = Transpose::Yes;
  weight_grad.m = out_features;
  weight_grad.n = in_features;
  weight_grad.k = rows;
  weight_grad.beta = 1.0f;
  weight_grad.lda = out_features;
  weight_grad.ldb = in_features;
  weight_grad.ldc = in_features;
  expect_same_result(weight_grad, dy.data(), x.data(), initial_c(weight_grad, random));
}

// core/cuda/attention.cu: q, k, v are column slices of the packed [batch, tokens, 3C] qkv (ld 3C, one sample
// apart), as are the gradients written into dqkv; scores and probs are [batch, tokens, tokens].
TEST(GemmMapping, AttentionCallsOfTheCudaBackend) {
  std::mt19937 random(11);
  const int64_t batch = 3, tokens = 5, channels = 3, stride = 3 * channels;
  const int64_t sample = tokens * stride, scores = tokens * tokens;
  const float scale = 0.25f;  // 1/sqrt(C) in the backend; a power of two keeps the sums exact here
  const std::vector<float> packed = stored_matrices(batch * tokens, stride, stride, 0, 1, kNaN, random);
  const float *q = packed.data(), *k = packed.data() + channels, *v = packed.data() + 2 * channels;
  const std::vector<float> probs = stored_matrices(tokens, tokens, tokens, scores, batch, kNaN, random);
  const std::vector<float> dout = stored_matrices(tokens, channels, channels, tokens * channels, batch, kNaN, random);

  // Forward: scores = q k^T * scale, out = probs v. Backward: d probs = dout v^T and d scores (in probs' layout).
  const auto score_product = [&](float alpha) {
    RowMajorGemm g;
    g.transpose_b = Transpose::Yes;
    g.m = tokens;
    g.n = tokens;
    g.k = channels;
    g.alpha = alpha;
    g.lda = stride;
    g.ldb = stride;
    g.a_batch_stride = sample;
    g.b_batch_stride = sample;
    g.ldc = tokens;
    g.c_batch_stride = scores;
    g.batch = batch;
    return g;
  };
  const RowMajorGemm scores_forward = score_product(scale);
  expect_same_result(scores_forward, q, k, initial_c(scores_forward, random));
  RowMajorGemm probs_grad = score_product(1.0f);
  probs_grad.lda = channels;
  probs_grad.a_batch_stride = tokens * channels;
  expect_same_result(probs_grad, dout.data(), v, initial_c(probs_grad, random));

  RowMajorGemm out;
  out.m = tokens;
  out.n = channels;
  out.k = tokens;
  out.lda = tokens;
  out.a_batch_stride = scores;
  out.ldb = stride;
  out.b_batch_stride = sample;
  out.ldc = channels;
  out.c_batch_stride = tokens * channels;
  out.batch = batch;
  expect_same_result(out, probs.data(), v, initial_c(out, random));

  // dv = probs^T dout, dq = d scores k * scale, dk = d scores^T q * scale, each written into its column slice of
  // dqkv; the other columns must stay untouched.
  const auto packed_grad = [&](Transpose transpose_a, int64_t ldb, int64_t b_batch_stride, float alpha) {
    RowMajorGemm g;
    g.transpose_a = transpose_a;
    g.m = tokens;
    g.n = channels;
    g.k = tokens;
    g.alpha = alpha;
    g.lda = tokens;
    g.a_batch_stride = scores;
    g.ldb = ldb;
    g.b_batch_stride = b_batch_stride;
    g.ldc = stride;
    g.c_batch_stride = sample;
    g.batch = batch;
    return g;
  };
  std::vector<float> dqkv(static_cast<size_t>(batch * sample));
  for (float& element : dqkv) element = kUntouched;
  const RowMajorGemm dv = packed_grad(Transpose::Yes, channels, tokens * channels, 1.0f);
  expect_same_result(dv, probs.data(), dout.data(), dqkv, 2 * channels);
  const RowMajorGemm dq = packed_grad(Transpose::No, stride, sample, scale);
  expect_same_result(dq, probs.data(), k, dqkv, 0);
  const RowMajorGemm dk = packed_grad(Transpose::Yes, stride, sample, scale);
  expect_same_result(dk, probs.data(), q, dqkv, channels);
}

// k = 0 leaves C = beta * C: cleared for beta 0 (NaN overwritten), kept for beta 1; empty C needs nothing.
TEST(GemmMapping, EmptyProductsClearOrKeepC) {
  std::mt19937 random(3);
  RowMajorGemm g;
  g.m = 3;
  g.n = 2;
  g.k = 0;
  g.lda = 0;
  g.ldb = 2;
  g.ldc = 4;
  g.c_batch_stride = 13;
  g.batch = 2;
  const float unused = kNaN;
  for (float beta : {0.0f, 1.0f}) {
    g.beta = beta;
    EXPECT_EQ(to_column_major(g).work, beta == 0.0f ? Work::ClearC : Work::Nothing);
    expect_same_result(g, &unused, &unused, initial_c(g, random));
  }
  g.k = 4;
  g.lda = 4;
  for (int64_t RowMajorGemm::*size : {&RowMajorGemm::m, &RowMajorGemm::n, &RowMajorGemm::batch}) {
    RowMajorGemm empty = g;
    empty.*size = 0;
    EXPECT_EQ(to_column_major(empty).work, Work::Nothing);
  }
}

TEST(GemmMapping, BadArgumentsAreNamed) {
  RowMajorGemm good;
  good.transpose_a = Transpose::Yes;
  good.m = 4;
  good.n = 3;
  good.k = 2;
  good.lda = 4;  // A stored [k,m]
  good.ldb = 3;
  good.ldc = 3;
  good.a_batch_stride = 8;
  good.b_batch_stride = 6;
  good.c_batch_stride = 12;
  good.batch = 2;
  EXPECT_EQ(to_column_major(good).work, Work::Gemm);

  const auto message = [&](void (*spoil)(RowMajorGemm&)) {
    RowMajorGemm bad = good;
    spoil(bad);
    return testing::error_message([&] { to_column_major(bad); });
  };
  const struct {
    void (*spoil)(RowMajorGemm&);
    const char* expected;
  } cases[] = {
      {[](RowMajorGemm& g) { g.m = -1; }, "gemm: m = -1 is negative"},
      {[](RowMajorGemm& g) { g.n = -2; }, "gemm: n = -2 is negative"},
      {[](RowMajorGemm& g) { g.k = -3; }, "gemm: k = -3 is negative"},
      {[](RowMajorGemm& g) { g.batch = -1; }, "gemm: batch = -1 is negative"},
      {[](RowMajorGemm& g) { g.k = int64_t{1} << 31; }, "gemm: k = 2147483648 does not fit cuBLAS's int"},
      {[](RowMajorGemm& g) { g.lda = 3; }, "gemm: lda = 3 is less than m = 4"},
      {[](RowMajorGemm& g) {
         g.transpose_a = Transpose::No;
         g.lda = 1;
       },
       "gemm: lda = 1 is less than k = 2"},
      {[](RowMajorGemm& g) { g.ldb = 2; }, "gemm: ldb = 2 is less than n = 3"},
      {[](RowMajorGemm& g) {
         g.transpose_b = Transpose::Yes;
         g.ldb = 1;
       },
       "gemm: ldb = 1 is less than k = 2"},
      {[](RowMajorGemm& g) { g.ldc = 2; }, "gemm: ldc = 2 is less than n = 3"},
      {[](RowMajorGemm& g) { g.ldc = -3; }, "gemm: ldc = -3 is negative"},
      {[](RowMajorGemm& g) { g.a_batch_stride = -8; }, "gemm: a_batch_stride = -8 is negative"},
      {[](RowMajorGemm& g) { g.b_batch_stride = -6; }, "gemm: b_batch_stride = -6 is negative"},
      {[](RowMajorGemm& g) { g.c_batch_stride = -1; }, "gemm: c_batch_stride = -1 is negative"},
      {[](RowMajorGemm& g) { g.c_batch_stride = 0; }, "gemm: c_batch_stride = 0 with batch = 2"},
      {[](RowMajorGemm& g) {
         g.k = 0;
         g.beta = 0.5f;
       },
       "gemm: k = 0 with beta 0.5 is not supported"},
  };
  for (const auto& bad : cases) {
    const std::string text = message(bad.spoil);
    EXPECT_NE(text.find(bad.expected), std::string::npos) << "expected \"" << bad.expected << "\" in: " << text;
  }
}

}  // namespace
}  // namespace diffuse::blas
