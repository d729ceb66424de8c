// Every CUDA op against the CPU reference on the same random inputs. One table
// entry per op call says what the arguments are and how to call the op; the
// harness makes the arguments on the CPU, copies them to the GPU, runs the
// entry on both devices and compares every argument afterwards (outputs,
// accumulated gradients, and inputs, which must come back unchanged) and the
// scalar an op returns. Adding an op costs one entry.
//
// fp32 results must match within the entry's rtol/atol. Entries that are
// matrix products (conv, linear, attention) run again with bf16 and fp16
// products (ScopedMatmulDtype) against the same fp32 CPU result, held to
// a relative error of 1e-2 (outputs, and the change of accumulated gradients),
// and every cuDNN/cuBLAS call they make must have run in the type asked for
// (core/cuda/library_types.h): a silent fallback to fp32 would pass the
// tolerance.
//
// The small entries reach every code path; the realistic ones (suite
// RealisticSizes: batch 128 at 32x32x256 and the DDPM CIFAR-10 model's
// shapes, one or two per kernel family and every cuDNN pass) catch what only
// real sizes reach: 32-bit overflows, grid limits, cuDNN having no algorithm
// (or none in bf16) for a shape, workspace limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/backend.h"
#include "core/matmul_precision.h"
#include "core/ops.h"
#include "core/philox.h"
#include "tests/gpu/gpu_testing.h"
#include "tests/support/low_precision_cases.h"
#include "tests/support/op_arguments.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::accumulated;
using testing::Arg;
using testing::copy_to;
using testing::Fill;
using testing::input;
using testing::labels;
using testing::make_argument;
using testing::output;
using testing::relative_error;
using testing::Role;
using testing::typed;

// Calls the op on the arguments (all on one device); returns its scalar result, or 0.
using OpCall = std::function<double(const std::vector<Tensor>&)>;

struct OpCase {
  std::string name;
  std::vector<Arg> args;
  OpCall call;
  double rtol = 1e-5;
  double atol = 1e-5;
  bool matrix_product = false;  // also run with bf16 and fp16 products
  double low_precision_tolerance = 1e-2;
};

std::ostream& operator<<(std::ostream& out, const OpCase& op) { return out << op.name; }

std::vector<Tensor> make_arguments(const OpCase& op) {
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < op.args.size(); ++i) tensors.push_back(make_argument(op.args[i], 1000 + i));
  return tensors;
}

std::vector<Tensor> copies_on(const std::vector<Tensor>& tensors, Device device) {
  std::vector<Tensor> copies;
  for (const Tensor& tensor : tensors) copies.push_back(copy_to(tensor, device));
  return copies;
}

// Shorthands for the entries below.
const Tensor kNone;
ops::Conv2dWindow window(int stride, int pad_h, int pad_w) { return ops::Conv2dWindow{stride, pad_h, pad_w}; }
int64_t swept(int64_t extent, int64_t kernel, int stride, int padding) {
  return (extent + 2 * padding - kernel) / stride + 1;
}

void add_conv_cases(std::vector<OpCase>& cases, const std::string& name, int64_t cin, int64_t cout, int64_t kh,
                    int64_t kw, const ops::Conv2dWindow& w, int64_t n = 2) {
  const int64_t h = 9, wd = 8;
  const Shape x{n, h, wd, cin}, weight{cout, kh, kw, cin};
  const Shape y{n, swept(h, kh, w.stride, w.pad_h), swept(wd, kw, w.stride, w.pad_w), cout};
  const double atol = 1e-4;  // sums of up to K*K*Ci products of U(-1,1) values
  cases.push_back({"conv_forward_" + name,
                   {input(x), input(weight), input({cout}), output(y)},
                   [w](const std::vector<Tensor>& a) {
                     ops::conv2d_forward(a[0], a[1], a[2], a[3], w);
                     return 0.0;
                   },
                   1e-5,
                   atol,
                   true});
  cases.push_back({"conv_forward_no_bias_" + name,
                   {input(x), input(weight), output(y)},
                   [w](const std::vector<Tensor>& a) {
                     ops::conv2d_forward(a[0], a[1], kNone, a[2], w);
                     return 0.0;
                   },
                   1e-5,
                   atol,
                   true});
  cases.push_back({"conv_forward_residual_" + name,
                   {input(x), input(weight), input({cout}), input(y), output(y)},
                   [w](const std::vector<Tensor>& a) {
                     ops::conv2d_forward(a[0], a[1], a[2], a[4], w, a[3]);
                     return 0.0;
                   },
                   1e-5,
                   atol,
                   true});
  cases.push_back({"conv_backward_" + name,
                   {input(x), input(weight), input(y), output(x), accumulated(weight), accumulated({cout})},
                   [w](const std::vector<Tensor>& a) {
                     ops::conv2d_backward(a[0], a[1], a[2], a[3], a[4], a[5], w);
                     return 0.0;
                   },
                   1e-5,
                   atol,
                   true});
  cases.push_back({"conv_backward_filter_only_" + name,
                   {input(x), input(weight), input(y), accumulated(weight)},
                   [w](const std::vector<Tensor>& a) {
                     ops::conv2d_backward(a[0], a[1], a[2], kNone, a[3], kNone, w);
                     return 0.0;
                   },
                   1e-5,
                   atol,
                   true});
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  // ---- convolution and linear
  add_conv_cases(cases, "3x3", 16, 24, 3, 3, window(1, 1, 1));
  add_conv_cases(cases, "3x3_stride2", 16, 24, 3, 3, window(2, 1, 1));
  add_conv_cases(cases, "1x1", 16, 24, 1, 1, window(1, 0, 0));
  add_conv_cases(cases, "3x3_image_in", 3, 32, 3, 3, window(1, 1, 1));
  add_conv_cases(cases, "3x3_image_out", 32, 3, 3, 3, window(1, 1, 1));
  add_conv_cases(cases, "1x7", 8, 16, 1, 7, window(1, 0, 3));
  add_conv_cases(cases, "5x5_stride2_unpadded", 8, 16, 5, 5, window(2, 0, 0));
  add_conv_cases(cases, "3x3_empty_batch", 8, 16, 3, 3, window(1, 1, 1), 0);  // a no-op; parameter gradients kept
  cases.push_back({"linear_forward",
                   {input({5, 48}), input({40, 48}), input({40}), output({5, 40})},
                   [](const std::vector<Tensor>& a) {
                     ops::linear_forward(a[0], a[1], a[2], a[3]);
                     return 0.0;
                   },
                   1e-5,
                   2e-5,
                   true});
  cases.push_back({"linear_forward_no_bias",
                   {input({5, 48}), input({40, 48}), output({5, 40})},
                   [](const std::vector<Tensor>& a) {
                     ops::linear_forward(a[0], a[1], kNone, a[2]);
                     return 0.0;
                   },
                   1e-5,
                   2e-5,
                   true});
  cases.push_back(
      {"linear_backward",
       {input({5, 48}), input({40, 48}), input({5, 40}), output({5, 48}), accumulated({40, 48}), accumulated({40})},
       [](const std::vector<Tensor>& a) {
         ops::linear_backward(a[0], a[1], a[2], a[3], a[4], a[5]);
         return 0.0;
       },
       1e-5,
       2e-5,
       true});
  // ---- attention (the backward entries run the forward first for probs)
  for (const int64_t tokens : {64, 37}) {
    const std::string suffix = "_" + std::to_string(tokens) + "_tokens";
    const int64_t n = 2, c = 32;
    cases.push_back({"attention_forward" + suffix,
                     {input({n, tokens, 3 * c}), output({n, tokens, c}), output({n, tokens, tokens})},
                     [](const std::vector<Tensor>& a) {
                       ops::attention_forward(a[0], a[1], a[2]);
                       return 0.0;
                     },
                     1e-5,
                     1e-5,
                     true});
    cases.push_back({"attention_backward" + suffix,
                     {input({n, tokens, 3 * c}), output({n, tokens, c}), output({n, tokens, tokens}),
                      input({n, tokens, c}), output({n, tokens, 3 * c})},
                     [](const std::vector<Tensor>& a) {
                       ops::attention_forward(a[0], a[1], a[2]);
                       ops::attention_backward(a[0], a[2], a[3], a[4]);
                       return 0.0;
                     },
                     1e-5,
                     1e-5,
                     true,
                     2e-2});  // four products in a row, and the softmax's row dot
    cases.push_back({"attention_forward_4_heads" + suffix,
                     {input({n, tokens, 3 * c}), output({n, tokens, c}), output({4 * n, tokens, tokens})},
                     [](const std::vector<Tensor>& a) {
                       ops::attention_forward(a[0], a[1], a[2], 4);
                       return 0.0;
                     },
                     1e-5,
                     1e-5,
                     true});
    cases.push_back({"attention_backward_4_heads" + suffix,
                     {input({n, tokens, 3 * c}), output({n, tokens, c}), output({4 * n, tokens, tokens}),
                      input({n, tokens, c}), output({n, tokens, 3 * c})},
                     [](const std::vector<Tensor>& a) {
                       ops::attention_forward(a[0], a[1], a[2], 4);
                       ops::attention_backward(a[0], a[2], a[3], a[4], 4);
                       return 0.0;
                     },
                     1e-5,
                     1e-5,
                     true,
                     2e-2});
  }
  // ---- normalisation and activation
  for (const Fill fill : {Fill::Uniform, Fill::Offset}) {
    const std::string suffix = fill == Fill::Offset ? "_offset_mean" : "";
    const Shape x{2, 6, 5, 32};
    cases.push_back({"group_norm_forward" + suffix,
                     {input(x, fill), input({32}), input({32}), output(x), output({2, 8}), output({2, 8})},
                     [](const std::vector<Tensor>& a) {
                       ops::group_norm_forward(a[0], a[1], a[2], 8, 1e-5f, a[3], a[4], a[5]);
                       return 0.0;
                     },
                     1e-5,
                     1e-5});
    cases.push_back({"group_norm_backward" + suffix,
                     {input(x, fill), input({32}), input({32}), output(x), output({2, 8}), output({2, 8}), input(x),
                      output(x), accumulated({32}), accumulated({32})},
                     [](const std::vector<Tensor>& a) {
                       ops::group_norm_forward(a[0], a[1], a[2], 8, 1e-5f, a[3], a[4], a[5]);
                       ops::group_norm_backward(a[0], a[1], a[4], a[5], 8, a[6], a[7], a[8], a[9]);
                       return 0.0;
                     },
                     1e-5,
                     1e-4});
  }
  // The fused op, without and with dropout; 6 channels put Philox blocks across pixels.
  for (const float p : {0.0f, 0.3f}) {
    const std::string suffix = p > 0.0f ? "_dropout" : "";
    const ops::Dropout dropout{p, ops::DropoutKey{42, 7, 100, 3}};
    const Shape x{2, 6, 5, 6};
    cases.push_back({"group_norm_silu_forward" + suffix,
                     {input(x), input({6}), input({6}), output(x), output({2, 3}), output({2, 3})},
                     [dropout](const std::vector<Tensor>& a) {
                       ops::group_norm_silu_forward(a[0], a[1], a[2], 3, 1e-5f, dropout, a[3], a[4], a[5]);
                       return 0.0;
                     },
                     1e-5,
                     1e-5});
    cases.push_back({"group_norm_silu_backward" + suffix,
                     {input(x), input({6}), input({6}), output(x), output({2, 3}), output({2, 3}), input(x), output(x),
                      accumulated({6}), accumulated({6})},
                     [dropout](const std::vector<Tensor>& a) {
                       ops::group_norm_silu_forward(a[0], a[1], a[2], 3, 1e-5f, dropout, a[3], a[4], a[5]);
                       ops::group_norm_silu_backward(a[0], a[1], a[2], a[4], a[5], 3, dropout, a[6], a[7], a[8], a[9]);
                       return 0.0;
                     },
                     1e-5,
                     1e-4});
  }
  cases.push_back({"group_norm_in_place_one_channel_groups",
                   {output({3, 4, 4, 16}), input({16}), input({16}), output({3, 16}), output({3, 16})},
                   [](const std::vector<Tensor>& a) {
                     ops::group_norm_forward(a[0], a[1], a[2], 16, 1e-5f, a[0], a[3], a[4]);
                     return 0.0;
                   }});
  cases.push_back({"silu_forward", {input({3, 7, 11}), output({3, 7, 11})}, [](const std::vector<Tensor>& a) {
                     ops::silu_forward(a[0], a[1]);
                     return 0.0;
                   }});
  cases.push_back({"silu_backward_in_place", {input({3, 7, 11}), output({3, 7, 11})}, [](const std::vector<Tensor>& a) {
                     ops::silu_backward(a[0], a[1], a[1]);
                     return 0.0;
                   }});
  // ---- resampling and plumbing
  cases.push_back({"upsample_forward", {input({2, 5, 3, 8}), output({2, 10, 6, 8})}, [](const std::vector<Tensor>& a) {
                     ops::upsample_nearest2x_forward(a[0], a[1]);
                     return 0.0;
                   }});
  cases.push_back({"upsample_backward", {input({2, 10, 6, 8}), output({2, 5, 3, 8})}, [](const std::vector<Tensor>& a) {
                     ops::upsample_nearest2x_backward(a[0], a[1]);
                     return 0.0;
                   }});
  cases.push_back({"concat_channels",
                   {input({2, 4, 3, 8}), input({2, 4, 3, 6}), output({2, 4, 3, 14})},
                   [](const std::vector<Tensor>& a) {
                     ops::concat_channels(a[0], a[1], a[2]);
                     return 0.0;
                   }});
  cases.push_back({"split_channels",
                   {input({2, 4, 3, 14}), output({2, 4, 3, 8}), output({2, 4, 3, 6})},
                   [](const std::vector<Tensor>& a) {
                     ops::split_channels(a[0], a[1], a[2]);
                     return 0.0;
                   }});
  cases.push_back(
      {"split_channels_second_only", {input({2, 4, 3, 14}), output({2, 4, 3, 6})}, [](const std::vector<Tensor>& a) {
         ops::split_channels(a[0], kNone, a[1]);
         return 0.0;
       }});
  cases.push_back({"add_channel_vector_forward_in_place",
                   {output({2, 4, 5, 24}), input({2, 24})},
                   [](const std::vector<Tensor>& a) {
                     ops::add_channel_vector_forward(a[0], a[1], a[0]);
                     return 0.0;
                   }});
  cases.push_back({"add_channel_vector_backward",
                   {input({2, 4, 5, 24}), output({2, 4, 5, 24}), output({2, 24})},
                   [](const std::vector<Tensor>& a) {
                     ops::add_channel_vector_backward(a[0], a[1], a[2]);
                     return 0.0;
                   }});
  cases.push_back({"scale_shift_channels_forward",
                   {input({2, 4, 5, 24}), input({2, 48}), output({2, 4, 5, 24})},
                   [](const std::vector<Tensor>& a) {
                     ops::scale_shift_channels_forward(a[0], a[1], a[2]);
                     return 0.0;
                   }});
  cases.push_back(
      {"scale_shift_channels_backward",
       {input({2, 40, 33, 24}), input({2, 48}), input({2, 40, 33, 24}), output({2, 40, 33, 24}), output({2, 48})},
       [](const std::vector<Tensor>& a) {
         ops::scale_shift_channels_backward(a[0], a[1], a[2], a[3], a[4]);
         return 0.0;
       }});
  cases.push_back({"add_channel_vector_backward_pass_through",
                   {input({2, 40, 33, 24}), output({2, 24})},
                   [](const std::vector<Tensor>& a) {
                     ops::add_channel_vector_backward(a[0], a[0], a[1]);
                     return 0.0;
                   }});
  cases.push_back({"add", {input({5, 77}), input({5, 77}), output({5, 77})}, [](const std::vector<Tensor>& a) {
                     ops::add(a[0], a[1], a[2]);
                     return 0.0;
                   }});
  cases.push_back({"add_in_place", {output({5, 77}), input({5, 77})}, [](const std::vector<Tensor>& a) {
                     ops::add(a[0], a[1], a[0]);
                     return 0.0;
                   }});
  cases.push_back({"accumulate", {output({5, 77}), input({5, 77})}, [](const std::vector<Tensor>& a) {
                     ops::accumulate(a[0], a[1]);
                     return 0.0;
                   }});
  cases.push_back({"scale", {input({5, 77}), output({5, 77})}, [](const std::vector<Tensor>& a) {
                     ops::scale(a[0], -0.37f, a[1]);
                     return 0.0;
                   }});
  cases.push_back({"combine_per_sample",
                   {input({3, 4, 4, 2}), input({3}), input({3, 4, 4, 2}), input({3}), output({3, 4, 4, 2})},
                   [](const std::vector<Tensor>& a) {
                     ops::combine_per_sample(a[0], a[1], a[2], a[3], a[4]);
                     return 0.0;
                   }});
  cases.push_back({"clamp_in_place", {output({3, 100})}, [](const std::vector<Tensor>& a) {
                     ops::clamp(a[0], -0.5f, 0.25f, a[0]);
                     return 0.0;
                   }});
  // ---- the evaluation networks' ops
  cases.push_back({"relu_forward",
                   {input({3, 7, 11}), output({3, 7, 11})},
                   [](const std::vector<Tensor>& a) {
                     ops::relu_forward(a[0], a[1]);
                     return 0.0;
                   },
                   0.0,
                   0.0});
  cases.push_back({"relu_backward",
                   {input({3, 7, 11}), input({3, 7, 11}), output({3, 7, 11})},
                   [](const std::vector<Tensor>& a) {
                     ops::relu_backward(a[0], a[1], a[2]);
                     return 0.0;
                   },
                   0.0,
                   0.0});
  for (const ops::Pool2dWindow pool : {ops::Pool2dWindow{3, 2, 0}, ops::Pool2dWindow{3, 1, 1}}) {
    const std::string suffix = "_" + std::to_string(pool.kernel) + "_stride" + std::to_string(pool.stride) + "_pad" +
                               std::to_string(pool.padding);
    const Shape x{2, 9, 8, 5},
        y{2, swept(9, pool.kernel, pool.stride, pool.padding), swept(8, pool.kernel, pool.stride, pool.padding), 5};
    cases.push_back({"max_pool_forward" + suffix,
                     {input(x), output(y)},
                     [pool](const std::vector<Tensor>& a) {
                       ops::max_pool2d_forward(a[0], a[1], pool);
                       return 0.0;
                     },
                     0.0,
                     0.0});
    cases.push_back({"max_pool_backward" + suffix,
                     {input(x), input(y), output(x)},
                     [pool](const std::vector<Tensor>& a) {
                       ops::max_pool2d_backward(a[0], a[1], a[2], pool);
                       return 0.0;
                     },
                     1e-6,
                     1e-7});
    cases.push_back({"avg_pool_forward" + suffix,
                     {input(x), output(y)},
                     [pool](const std::vector<Tensor>& a) {
                       ops::avg_pool2d_forward(a[0], a[1], pool);
                       return 0.0;
                     },
                     1e-6,
                     1e-7});
    cases.push_back({"avg_pool_backward" + suffix,
                     {input(y), output(x)},
                     [pool](const std::vector<Tensor>& a) {
                       ops::avg_pool2d_backward(a[0], a[1], pool);
                       return 0.0;
                     },
                     1e-6,
                     1e-7});
  }
  cases.push_back({"global_avg_pool_forward",
                   {input({2, 5, 7, 12}), output({2, 12})},
                   [](const std::vector<Tensor>& a) {
                     ops::global_avg_pool_forward(a[0], a[1]);
                     return 0.0;
                   },
                   0.0,
                   0.0});
  cases.push_back({"global_avg_pool_backward",
                   {input({2, 12}), output({2, 5, 7, 12})},
                   [](const std::vector<Tensor>& a) {
                     ops::global_avg_pool_backward(a[0], a[1]);
                     return 0.0;
                   },
                   0.0,
                   0.0});
  for (const auto& [from, to] :
       std::vector<std::pair<Shape, Shape>>{{{2, 5, 7, 3}, {2, 11, 13, 3}}, {{2, 9, 8, 3}, {2, 4, 3, 3}}}) {
    const std::string suffix = "_" + std::to_string(from[1]) + "x" + std::to_string(from[2]) + "_to_" +
                               std::to_string(to[1]) + "x" + std::to_string(to[2]);
    cases.push_back({"resize_bilinear_forward" + suffix,
                     {input(from), output(to)},
                     [](const std::vector<Tensor>& a) {
                       ops::resize_bilinear_forward(a[0], a[1]);
                       return 0.0;
                     },
                     1e-6,
                     1e-6});
    cases.push_back({"resize_bilinear_backward" + suffix,
                     {input(to), output(from)},
                     [](const std::vector<Tensor>& a) {
                       ops::resize_bilinear_backward(a[0], a[1]);
                       return 0.0;
                     },
                     1e-6,
                     1e-6});
  }
  cases.push_back({"cross_entropy_forward",
                   {input({6, 10}), labels({6}, 10), output({6})},
                   [](const std::vector<Tensor>& a) {
                     ops::cross_entropy_forward(a[0], a[1], a[2]);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  cases.push_back({"cross_entropy_backward",
                   {input({6, 10}), labels({6}, 10), output({6, 10})},
                   [](const std::vector<Tensor>& a) {
                     ops::cross_entropy_backward(a[0], a[1], 0.5f, a[2]);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  // ---- randomness: the same Philox streams
  cases.push_back({"dropout_forward", {input({3, 5, 7}), output({3, 5, 7})}, [](const std::vector<Tensor>& a) {
                     ops::dropout_forward(a[0], 0.3f, ops::DropoutKey{42, 7, 100, 3}, a[1]);
                     return 0.0;
                   }});
  cases.push_back({"dropout_backward_in_place", {output({3, 5, 7})}, [](const std::vector<Tensor>& a) {
                     ops::dropout_backward(a[0], 0.3f, ops::DropoutKey{42, 7, 100, 3}, a[0]);
                     return 0.0;
                   }});
  cases.push_back({"dropout_zero_probability", {input({3, 5, 7}), output({3, 5, 7})}, [](const std::vector<Tensor>& a) {
                     ops::dropout_forward(a[0], 0.0f, ops::DropoutKey{42, 7, 100, 3}, a[1]);
                     return 0.0;
                   }});
  cases.push_back({"fill_uniform",
                   {output({3, 1031})},
                   [](const std::vector<Tensor>& a) {
                     ops::fill_uniform(a[0], 1234, kPurposeNoise, 7, 100);
                     return 0.0;
                   },
                   0.0,
                   0.0});
  cases.push_back({"fill_normal",
                   {output({3, 1031})},
                   [](const std::vector<Tensor>& a) {
                     ops::fill_normal(a[0], 1234, kPurposeNoise, 7, 100);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  // ---- embeddings
  cases.push_back({"timestep_embedding_forward",
                   {input({5}, Fill::Times), output({5, 64})},
                   [](const std::vector<Tensor>& a) {
                     ops::timestep_embedding_forward(a[0], a[1]);
                     return 0.0;
                   },
                   1e-6,
                   1e-6});
  cases.push_back({"timestep_embedding_backward",
                   {input({5}, Fill::Times), input({5, 64}), output({5})},
                   [](const std::vector<Tensor>& a) {
                     ops::timestep_embedding_backward(a[0], a[1], a[2]);
                     return 0.0;
                   },
                   1e-5,
                   1e-4});
  cases.push_back({"embedding_forward",
                   {input({6, 32}), labels({9}, 6), output({9, 32})},
                   [](const std::vector<Tensor>& a) {
                     ops::embedding_forward(a[0], a[1], a[2]);
                     return 0.0;
                   },
                   0.0,
                   0.0});
  cases.push_back({"embedding_backward",
                   {labels({9}, 6), input({9, 32}), accumulated({6, 32})},
                   [](const std::vector<Tensor>& a) {
                     ops::embedding_backward(a[0], a[1], a[2]);
                     return 0.0;
                   },
                   0.0,
                   0.0});
  // ---- loss
  cases.push_back({"mse_loss_forward",
                   {input({4, 3, 4, 4}), input({4, 3, 4, 4}), input({4}, Fill::Positive), output({4})},
                   [](const std::vector<Tensor>& a) {
                     ops::mse_loss_forward(a[0], a[1], a[2], a[3]);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  cases.push_back({"mse_loss_backward",
                   {input({4, 3, 4, 4}), input({4, 3, 4, 4}), input({4}, Fill::Positive), output({4, 3, 4, 4})},
                   [](const std::vector<Tensor>& a) {
                     ops::mse_loss_backward(a[0], a[1], a[2], 0.25f, a[3]);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  cases.push_back({"pseudo_huber_loss_forward",
                   {input({4, 3, 4, 4}), input({4, 3, 4, 4}), input({4}, Fill::Positive), output({4})},
                   [](const std::vector<Tensor>& a) {
                     ops::pseudo_huber_loss_forward(a[0], a[1], a[2], 0.03f, a[3]);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  cases.push_back({"pseudo_huber_loss_backward",
                   {input({4, 3, 4, 4}), input({4, 3, 4, 4}), input({4}, Fill::Positive), output({4, 3, 4, 4})},
                   [](const std::vector<Tensor>& a) {
                     ops::pseudo_huber_loss_backward(a[0], a[1], a[2], 0.03f, 0.25f, a[3]);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  // ---- optimiser and flat buffers
  cases.push_back({"adamw_update",
                   {output({1000}), input({1000}), output({1000}), Arg{{1000}, Role::Output, Fill::Positive}},
                   [](const std::vector<Tensor>& a) {
                     ops::AdamWStep step;
                     step.lr = 1e-3f;
                     step.weight_decay = 0.01f;
                     step.step = 3;
                     step.grad_scale = 0.5f;
                     ops::adamw_update(a[0], a[1], a[2], a[3], step);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  cases.push_back({"ema_update",
                   {output({1000}), input({1000})},
                   [](const std::vector<Tensor>& a) {
                     ops::ema_update(a[0], a[1], 0.99f);
                     return 0.0;
                   },
                   1e-6,
                   1e-7});
  cases.push_back({"sum_of_squares",
                   {input({300001})},
                   [](const std::vector<Tensor>& a) { return ops::sum_of_squares(a[0]); },
                   1e-12,
                   0.0});
  // ---- casts: exact, with core/half.h's rounding on both sides
  const std::vector<std::pair<DType, DType>> casts = {{DType::F32, DType::BF16}, {DType::F32, DType::F16},
                                                      {DType::BF16, DType::F32}, {DType::F16, DType::F32},
                                                      {DType::BF16, DType::F16}, {DType::F16, DType::BF16}};
  for (const auto& [from, to] : casts) {
    cases.push_back({std::string("cast_") + dtype_name(from) + "_to_" + dtype_name(to),
                     {typed(input({7, 131}), from), typed(output({7, 131}), to)},
                     [](const std::vector<Tensor>& a) {
                       ops::cast(a[0], a[1]);
                       return 0.0;
                     },
                     0.0,
                     0.0});
  }
  return cases;
}

// One call's entry, with the default tolerances; for the realistic sizes.
OpCase entry(std::string name, std::vector<Arg> args, OpCall call, double rtol = 1e-5, double atol = 1e-5) {
  return OpCase{std::move(name), std::move(args), std::move(call), rtol, atol};
}

// A convolution's forward (with bias and residual) and its whole backward (data, filter and bias gradients):
// every cuDNN pass, in fp32 and (as matrix products) bf16 and fp16. Sums of `terms` products of U(-1,1) values
// differ by their order and by cuDNN's algorithm (Winograd and FFT ones round differently): the tolerance grows
// with the longest sum (the filter gradient's, over every pixel). An indexing error is off by whole values.
void add_realistic_conv(std::vector<OpCase>& cases, const std::string& name, const Shape& x, int64_t cout,
                        int64_t kernel, const ops::Conv2dWindow& w) {
  const int64_t n = x[0], h = x[1], wd = x[2], cin = x[3];
  const Shape weight{cout, kernel, kernel, cin};
  const Shape y{n, swept(h, kernel, w.stride, w.pad_h), swept(wd, kernel, w.stride, w.pad_w), cout};
  const auto atol_for = [](int64_t terms) { return std::max(1e-4, 1e-6 * static_cast<double>(terms)); };
  OpCase forward = entry(
      "conv_forward_" + name, {input(x), input(weight), input({cout}), input(y), output(y)},
      [w](const std::vector<Tensor>& a) {
        ops::conv2d_forward(a[0], a[1], a[2], a[4], w, a[3]);
        return 0.0;
      },
      1e-5, atol_for(kernel * kernel * cin));
  forward.matrix_product = true;
  cases.push_back(forward);
  OpCase backward = entry(
      "conv_backward_" + name, {input(x), input(weight), input(y), output(x), accumulated(weight), accumulated({cout})},
      [w](const std::vector<Tensor>& a) {
        ops::conv2d_backward(a[0], a[1], a[2], a[3], a[4], a[5], w);
        return 0.0;
      },
      1e-5, atol_for(std::max(kernel * kernel * cout, y[0] * y[1] * y[2])));
  backward.matrix_product = true;
  cases.push_back(backward);
}

// Sizes of real training: batch 128 at 32x32 with 256 channels, and the DDPM CIFAR-10 model's shapes
// (configs/cifar10_ddpm.yaml: 128 channels at 32x32, 256 at 16x16 and below, attention at 16x16, 35.7M
// parameters), plus the evaluation networks' (Inception's pools, resizing 32x32 images to 299x299).
std::vector<OpCase> realistic_cases() {
  std::vector<OpCase> cases;
  const Shape wide{128, 32, 32, 256}, ddpm{128, 32, 32, 128}, image{128, 32, 32, 3};
  // ---- cuDNN: each pass, for the widest layer and the DDPM model's odd ones
  add_realistic_conv(cases, "128x32x32x256_3x3", wide, 256, 3, window(1, 1, 1));
  add_realistic_conv(cases, "ddpm_image_in_128x32x32x3_to_128", image, 128, 3, window(1, 1, 1));
  add_realistic_conv(cases, "ddpm_image_out_128x32x32x128_to_3", ddpm, 3, 3, window(1, 1, 1));
  add_realistic_conv(cases, "ddpm_downsample_128x32x32x128_stride2", ddpm, 128, 3, window(2, 1, 1));
  add_realistic_conv(cases, "ddpm_skip_128x16x16x384_to_256_1x1", {128, 16, 16, 384}, 256, 1, window(1, 0, 0));
  // ---- cuBLAS: the time embedding's linear layers and attention at 16x16 (256 tokens, 256 channels, one head)
  for (OpCase op :
       {entry(
            "linear_forward_128x512_to_512", {input({128, 512}), input({512, 512}), input({512}), output({128, 512})},
            [](const std::vector<Tensor>& a) {
              ops::linear_forward(a[0], a[1], a[2], a[3]);
              return 0.0;
            },
            1e-5, 1e-4),
        entry(
            "linear_backward_128x512_to_512",
            {input({128, 512}), input({512, 512}), input({128, 512}), output({128, 512}), accumulated({512, 512}),
             accumulated({512})},
            [](const std::vector<Tensor>& a) {
              ops::linear_backward(a[0], a[1], a[2], a[3], a[4], a[5]);
              return 0.0;
            },
            1e-5, 1e-4),
        entry(
            "attention_forward_ddpm_128x256x256",
            {input({128, 256, 768}), output({128, 256, 256}), output({128, 256, 256})},
            [](const std::vector<Tensor>& a) {
              ops::attention_forward(a[0], a[1], a[2]);
              return 0.0;
            },
            1e-4, 1e-5),
        entry(
            "attention_backward_ddpm_128x256x256",
            {input({128, 256, 768}), output({128, 256, 256}), output({128, 256, 256}), input({128, 256, 256}),
             output({128, 256, 768})},
            [](const std::vector<Tensor>& a) {
              ops::attention_forward(a[0], a[1], a[2]);
              ops::attention_backward(a[0], a[2], a[3], a[4]);
              return 0.0;
            },
            1e-4, 1e-4)}) {
    op.matrix_product = true;
    if (op.name.rfind("attention_backward", 0) == 0) op.low_precision_tolerance = 2e-2;
    cases.push_back(op);
  }
  // ---- group norm (reductions over 8192 values per group; gamma and beta gradients over 131072 per channel)
  cases.push_back(entry(
      "group_norm_forward_128x32x32x256",
      {input(wide), input({256}), input({256}), output(wide), output({128, 32}), output({128, 32})},
      [](const std::vector<Tensor>& a) {
        ops::group_norm_forward(a[0], a[1], a[2], 32, 1e-5f, a[3], a[4], a[5]);
        return 0.0;
      },
      1e-5, 1e-4));
  cases.push_back(entry(
      "group_norm_backward_128x32x32x256",
      {input(wide), input({256}), input({256}), output(wide), output({128, 32}), output({128, 32}), input(wide),
       output(wide), accumulated({256}), accumulated({256})},
      [](const std::vector<Tensor>& a) {
        ops::group_norm_forward(a[0], a[1], a[2], 32, 1e-5f, a[3], a[4], a[5]);
        ops::group_norm_backward(a[0], a[1], a[4], a[5], 32, a[6], a[7], a[8], a[9]);
        return 0.0;
      },
      1e-4, 1e-3));
  const ops::Dropout dropout{0.1f, ops::DropoutKey{42, 7, 100, 3}};  // the DDPM model's dropout
  cases.push_back(entry(
      "group_norm_silu_forward_dropout_ddpm_128x32x32x128",
      {input(ddpm), input({128}), input({128}), output(ddpm), output({128, 32}), output({128, 32})},
      [dropout](const std::vector<Tensor>& a) {
        ops::group_norm_silu_forward(a[0], a[1], a[2], 32, 1e-5f, dropout, a[3], a[4], a[5]);
        return 0.0;
      },
      1e-5, 1e-4));
  cases.push_back(entry(
      "group_norm_silu_backward_dropout_ddpm_128x32x32x128",
      {input(ddpm), input({128}), input({128}), output(ddpm), output({128, 32}), output({128, 32}), input(ddpm),
       output(ddpm), accumulated({128}), accumulated({128})},
      [dropout](const std::vector<Tensor>& a) {
        ops::group_norm_silu_forward(a[0], a[1], a[2], 32, 1e-5f, dropout, a[3], a[4], a[5]);
        ops::group_norm_silu_backward(a[0], a[1], a[2], a[4], a[5], 32, dropout, a[6], a[7], a[8], a[9]);
        return 0.0;
      },
      1e-4, 1e-3));
  // ---- elementwise, bias and channel vectors (the time embedding added to every pixel)
  cases.push_back(entry("silu_forward_128x32x32x256", {input(wide), output(wide)}, [](const std::vector<Tensor>& a) {
    ops::silu_forward(a[0], a[1]);
    return 0.0;
  }));
  cases.push_back(entry("add_channel_vector_forward_in_place_128x32x32x256", {output(wide), input({128, 256})},
                        [](const std::vector<Tensor>& a) {
                          ops::add_channel_vector_forward(a[0], a[1], a[0]);
                          return 0.0;
                        }));
  cases.push_back(entry(
      "add_channel_vector_backward_128x32x32x256", {input(wide), output(wide), output({128, 256})},
      [](const std::vector<Tensor>& a) {
        ops::add_channel_vector_backward(a[0], a[1], a[2]);
        return 0.0;
      },
      1e-5, 1e-4));
  // ---- resampling and plumbing (the DDPM decoder at 32x32: 256 upsampled channels and 128 skipped)
  cases.push_back(entry("upsample_forward_ddpm_128x16x16x256", {input({128, 16, 16, 256}), output(wide)},
                        [](const std::vector<Tensor>& a) {
                          ops::upsample_nearest2x_forward(a[0], a[1]);
                          return 0.0;
                        }));
  cases.push_back(entry("upsample_backward_ddpm_128x32x32x256", {input(wide), output({128, 16, 16, 256})},
                        [](const std::vector<Tensor>& a) {
                          ops::upsample_nearest2x_backward(a[0], a[1]);
                          return 0.0;
                        }));
  cases.push_back(entry("concat_channels_ddpm_256_and_128", {input(wide), input(ddpm), output({128, 32, 32, 384})},
                        [](const std::vector<Tensor>& a) {
                          ops::concat_channels(a[0], a[1], a[2]);
                          return 0.0;
                        }));
  cases.push_back(entry("split_channels_ddpm_384_to_256_and_128",
                        {input({128, 32, 32, 384}), output(wide), output(ddpm)}, [](const std::vector<Tensor>& a) {
                          ops::split_channels(a[0], a[1], a[2]);
                          return 0.0;
                        }));
  // ---- randomness, embeddings, loss
  cases.push_back(
      entry("dropout_forward_ddpm_128x32x32x128", {input(ddpm), output(ddpm)}, [](const std::vector<Tensor>& a) {
        ops::dropout_forward(a[0], 0.1f, ops::DropoutKey{42, 7, 100, 3}, a[1]);
        return 0.0;
      }));
  cases.push_back(entry(
      "fill_normal_noise_128x32x32x3", {output(image)},
      [](const std::vector<Tensor>& a) {
        ops::fill_normal(a[0], 1234, kPurposeNoise, 7, 100);
        return 0.0;
      },
      1e-6, 1e-7));
  cases.push_back(entry(
      "timestep_embedding_forward_128x128", {input({128}, Fill::Times), output({128, 128})},
      [](const std::vector<Tensor>& a) {
        ops::timestep_embedding_forward(a[0], a[1]);
        return 0.0;
      },
      1e-6, 1e-6));
  cases.push_back(entry(
      "embedding_backward_10_classes_128x512", {labels({128}, 10), input({128, 512}), accumulated({10, 512})},
      [](const std::vector<Tensor>& a) {
        ops::embedding_backward(a[0], a[1], a[2]);
        return 0.0;
      },
      1e-5, 1e-5));
  cases.push_back(entry(
      "mse_loss_forward_128x32x32x3", {input(image), input(image), input({128}, Fill::Positive), output({128})},
      [](const std::vector<Tensor>& a) {
        ops::mse_loss_forward(a[0], a[1], a[2], a[3]);
        return 0.0;
      },
      1e-6, 1e-7));
  cases.push_back(entry(
      "mse_loss_backward_128x32x32x3", {input(image), input(image), input({128}, Fill::Positive), output(image)},
      [](const std::vector<Tensor>& a) {
        ops::mse_loss_backward(a[0], a[1], a[2], 1.0f / 128, a[3]);
        return 0.0;
      },
      1e-6, 1e-7));
  // ---- the optimizer over the DDPM model's 35,746,307 parameters
  const int64_t parameters = 35746307;
  cases.push_back(entry(
      "adamw_update_ddpm_parameters",
      {output({parameters}), input({parameters}), output({parameters}),
       Arg{{parameters}, Role::Output, Fill::Positive}},
      [](const std::vector<Tensor>& a) {
        ops::AdamWStep step;
        step.lr = 2e-4f;
        step.step = 5000;
        step.grad_scale = 0.5f;
        ops::adamw_update(a[0], a[1], a[2], a[3], step);
        return 0.0;
      },
      1e-6, 1e-7));
  cases.push_back(entry(
      "ema_update_ddpm_parameters", {output({parameters}), input({parameters})},
      [](const std::vector<Tensor>& a) {
        ops::ema_update(a[0], a[1], 0.9999f);
        return 0.0;
      },
      1e-6, 1e-7));
  cases.push_back(entry(
      "sum_of_squares_ddpm_parameters", {input({parameters})},
      [](const std::vector<Tensor>& a) { return ops::sum_of_squares(a[0]); }, 1e-10, 0.0));
  // ---- casts
  for (const DType low : {DType::BF16, DType::F16})
    cases.push_back(entry(
        std::string("cast_f32_to_") + dtype_name(low) + "_128x32x32x256", {input(wide), typed(output(wide), low)},
        [](const std::vector<Tensor>& a) {
          ops::cast(a[0], a[1]);
          return 0.0;
        },
        0.0, 0.0));
  // ---- the evaluation networks: Inception's first max pool and a mixed block's average pool, its global pool,
  // resizing CIFAR-10 images to 299x299, and a 1000-class classifier's loss
  const ops::Pool2dWindow max_pool{3, 2, 0}, avg_pool{3, 1, 1};
  const Shape stem{32, 147, 147, 64}, stem_pooled{32, 73, 73, 64}, mixed{32, 35, 35, 288};
  cases.push_back(entry(
      "max_pool_forward_inception_32x147x147x64", {input(stem), output(stem_pooled)},
      [max_pool](const std::vector<Tensor>& a) {
        ops::max_pool2d_forward(a[0], a[1], max_pool);
        return 0.0;
      },
      0.0, 0.0));
  cases.push_back(entry(
      "max_pool_backward_inception_32x147x147x64", {input(stem), input(stem_pooled), output(stem)},
      [max_pool](const std::vector<Tensor>& a) {
        ops::max_pool2d_backward(a[0], a[1], a[2], max_pool);
        return 0.0;
      },
      1e-6, 1e-7));
  cases.push_back(entry(
      "avg_pool_forward_inception_32x35x35x288", {input(mixed), output(mixed)},
      [avg_pool](const std::vector<Tensor>& a) {
        ops::avg_pool2d_forward(a[0], a[1], avg_pool);
        return 0.0;
      },
      1e-6, 1e-7));
  cases.push_back(entry(
      "global_avg_pool_forward_inception_64x8x8x2048", {input({64, 8, 8, 2048}), output({64, 2048})},
      [](const std::vector<Tensor>& a) {
        ops::global_avg_pool_forward(a[0], a[1]);
        return 0.0;
      },
      1e-6, 1e-7));
  cases.push_back(entry(
      "resize_bilinear_forward_64x32x32x3_to_299", {input({64, 32, 32, 3}), output({64, 299, 299, 3})},
      [](const std::vector<Tensor>& a) {
        ops::resize_bilinear_forward(a[0], a[1]);
        return 0.0;
      },
      1e-6, 1e-6));
  cases.push_back(entry(
      "resize_bilinear_backward_64x299x299x3_to_32", {input({64, 299, 299, 3}), output({64, 32, 32, 3})},
      [](const std::vector<Tensor>& a) {
        ops::resize_bilinear_backward(a[0], a[1]);
        return 0.0;
      },
      1e-5, 1e-5));
  cases.push_back(entry(
      "cross_entropy_backward_128x1000", {input({128, 1000}), labels({128}, 1000), output({128, 1000})},
      [](const std::vector<Tensor>& a) {
        ops::cross_entropy_backward(a[0], a[1], 1.0f / 128, a[2]);
        return 0.0;
      },
      1e-6, 1e-7));
  return cases;
}

class GpuOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(GpuOps, MatchesCpu) {
  DIFFUSE_REQUIRE_GPU();
  const OpCase& op = GetParam();
  const std::vector<Tensor> initial = make_arguments(op);
  const std::vector<Tensor> host = copies_on(initial, Device::CPU), device = copies_on(initial, Device::CUDA);
  const double expected = op.call(host);
  testing::reset_library_calls();
  const double actual = op.call(device);
  testing::expect_library_calls_in(DType::F32, false, op.name);  // fp32 throughout: no TF32, no lower type
  EXPECT_NEAR(actual, expected, op.rtol * std::fabs(expected) + op.atol) << op.name << ": returned value";
  for (size_t i = 0; i < host.size(); ++i)
    testing::expect_close(device[i], host[i], op.rtol, op.atol, op.name + " argument " + std::to_string(i));
}

// A bf16/fp16 result against the fp32 CPU one: outputs and the change of
// accumulated arguments within a relative error; inputs unchanged.
void expect_low_precision_close(const OpCase& op, DType dtype) {
  const std::vector<Tensor> initial = make_arguments(op);
  const std::vector<Tensor> host = copies_on(initial, Device::CPU), device = copies_on(initial, Device::CUDA);
  op.call(host);  // fp32: the matmul dtype is process-wide, and the CPU would follow it too
  {
    const ScopedMatmulDtype products(dtype);
    testing::reset_library_calls();
    op.call(device);
  }
  testing::expect_library_calls_in(dtype, initial[0].numel() > 0, op.name + " in " + dtype_name(dtype));
  for (size_t i = 0; i < host.size(); ++i) {
    const std::string what = op.name + " argument " + std::to_string(i) + " in " + dtype_name(dtype);
    switch (op.args[i].role) {
      case Role::Input:
        testing::expect_close(device[i], initial[i], 0.0, 0.0, what + " (an input)");
        break;
      case Role::Output:
        EXPECT_LE(relative_error(device[i], host[i]), op.low_precision_tolerance) << what;
        break;
      case Role::Accumulated: {
        Tensor negated = Tensor::empty(initial[i].shape());
        ops::scale(initial[i], -1.0f, negated);
        Tensor device_change = copy_to(device[i], Device::CPU), host_change = copy_to(host[i], Device::CPU);
        ops::accumulate(device_change, negated);
        ops::accumulate(host_change, negated);
        EXPECT_LE(relative_error(device_change, host_change), op.low_precision_tolerance) << what << " (its change)";
        break;
      }
    }
  }
}

std::vector<OpCase> matrix_products_of(const std::vector<OpCase>& cases) {
  std::vector<OpCase> selected;
  for (const OpCase& op : cases)
    if (op.matrix_product) selected.push_back(op);
  return selected;
}

class GpuLowPrecisionProducts : public ::testing::TestWithParam<OpCase> {};

TEST_P(GpuLowPrecisionProducts, Bf16CloseToFp32Cpu) {
  DIFFUSE_REQUIRE_GPU();
  expect_low_precision_close(GetParam(), DType::BF16);
}

TEST_P(GpuLowPrecisionProducts, Fp16CloseToFp32Cpu) {
  DIFFUSE_REQUIRE_GPU();
  expect_low_precision_close(GetParam(), DType::F16);
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(AllOps, GpuOps, ::testing::ValuesIn(all_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(MatrixProducts, GpuLowPrecisionProducts, ::testing::ValuesIn(matrix_products_of(all_cases())),
                         case_name);
INSTANTIATE_TEST_SUITE_P(RealisticSizes, GpuOps, ::testing::ValuesIn(realistic_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(RealisticSizes, GpuLowPrecisionProducts,
                         ::testing::ValuesIn(matrix_products_of(realistic_cases())), case_name);

// The ops that take bf16 and f16 activations (tests/support/low_precision_cases.h), on both devices in low
// precision.
class GpuLowPrecisionActivations : public ::testing::TestWithParam<std::tuple<testing::LowPrecisionCase, DType>> {};

TEST_P(GpuLowPrecisionActivations, MatchCpu) {
  DIFFUSE_REQUIRE_GPU();
  const auto& [op, dtype] = GetParam();
  const std::vector<Tensor> initial = testing::make_case_arguments(op, dtype);
  const std::vector<Tensor> host = copies_on(initial, Device::CPU), device = copies_on(initial, Device::CUDA);
  op.call(backend_for(Device::CPU), host);
  op.call(backend_for(Device::CUDA), device);
  // fp32 results within 1e-5 (as the fp32 entries) round to values at most one unit in the last place apart: 2u
  // relative (u = 2^-8 for bf16, 2^-11 for f16).
  const double rtol = 1e-5 + 2 * (dtype == DType::BF16 ? 0x1p-8 : 0x1p-11);
  for (size_t i = 0; i < host.size(); ++i)
    testing::expect_close(device[i], host[i], rtol, 1e-5, op.name + " argument " + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(SharedTable, GpuLowPrecisionActivations,
                         ::testing::Combine(::testing::ValuesIn(testing::low_precision_cases()),
                                            ::testing::Values(DType::BF16, DType::F16)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + dtype_name(std::get<1>(info.param));
                         });

// Bad labels found by a kernel surface as an Error at the next synchronisation.
TEST(GpuOpErrors, OutOfRangeLabelIsReported) {
  DIFFUSE_REQUIRE_GPU();
  Tensor table = copy_to(testing::random_tensor({6, 8}, 1), Device::CUDA);
  Tensor host_labels = Tensor::empty({3}, DType::I32);
  host_labels.i32()[0] = 1;
  host_labels.i32()[1] = 7;
  host_labels.i32()[2] = 2;
  Tensor labels_on_device = copy_to(host_labels, Device::CUDA);
  Tensor out = Tensor::empty({3, 8}, DType::F32, Device::CUDA);
  ops::embedding_forward(table, labels_on_device, out);
  try {
    to_vector(out);
    FAIL() << "reading the output back must report the bad label";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("label 7 of sample 1"), std::string::npos) << error.what();
  }
  // Reported once: the next synchronisation is clean.
  EXPECT_NO_THROW(cuda::synchronize());
}

}  // namespace
}  // namespace diffuse
