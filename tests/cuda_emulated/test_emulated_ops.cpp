// Our CUDA kernels, run on the host emulation (core/cuda/host_emulation.h),
// against the CPU backend on the same random inputs: the same check as
// tests/gpu/test_gpu_ops.cpp for the ops whose work is our own kernels (not
// cuDNN's or cuBLAS's), on every build, GPU or not. Each entry calls one
// backend method on both backends and compares every argument afterwards
// (outputs, accumulated gradients, and inputs, which must come back
// unchanged) and the scalar it returns: bit for bit (tolerance 0) where both
// backends do the same arithmetic, else within the entry's tolerance, whose
// reason the entry gives.
//
// Sizes are realistic: a batch of 128 x 32 x 32 x 256 activations for
// representative ops (SiLU, the fused group norm with dropout) and the
// CIFAR-10 DDPM model's (configs/cifar10_ddpm.yaml, batch 128) for the rest:
// feature maps of 32 x 32 x 128, 16 x 16 x 256 and 8 x 8 x 256, 32 groups,
// the softmax over 256 tokens, 9M-element parameter buffers. The grid of
// grid-stride loops is capped at kCappedBlocks, so that every thread walks
// many elements and the loops wrap; the kernels with a block per row, sample
// or chunk run their whole grids.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/backend.h"
#include "core/cuda/cuda_backend.h"
#include "core/cuda/host_emulation.h"
#include "core/cuda/kernels.h"
#include "core/half.h"
#include "core/ops.h"
#include "core/philox.h"
#include "core/step_state.h"
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
using testing::Role;
using testing::typed;

// Few, and no divisor of the sizes: the last pass of a grid-stride loop is partial.
constexpr int64_t kCappedBlocks = 61;

// Calls the op on `backend` with the arguments; returns its scalar result, or 0.
using OpCall = std::function<double(Backend&, const std::vector<Tensor>&)>;

struct OpCase {
  std::string name;
  std::vector<Arg> args;
  OpCall call;
  double rtol = 0.0;  // 0 and 0: bit for bit
  double atol = 0.0;
};

std::ostream& operator<<(std::ostream& out, const OpCase& op) { return out << op.name; }

// Shorthands for the entries.
const Tensor kNone;
template <typename Body>
OpCall op(Body body) {
  return [body](Backend& backend, const std::vector<Tensor>& a) {
    body(backend, a);
    return 0.0;
  };
}

// A step state holding this decision, as decide_step leaves it.
Tensor decision(float grad_factor, bool skip) {
  StepState state;
  state.grad_factor = grad_factor;
  state.skip = skip ? 1 : 0;
  return step_state_tensor(state, Device::CPU);
}

// A step state holding this dynamic loss scale.
Tensor scale_state(double scale) {
  StepState state;
  state.scale = scale;
  return step_state_tensor(state, Device::CPU);
}

// A batch of 128 x 32 x 32 x 256 activations, and the CIFAR-10 DDPM model's feature maps.
const Shape kBatch{128, 32, 32, 256};
const Shape kLevel0{128, 32, 32, 128}, kLevel1{128, 16, 16, 256}, kLevel2{128, 8, 8, 256};

void add_elementwise_cases(std::vector<OpCase>& cases) {
  cases.push_back({"silu_forward_batch",
                   {input(kBatch), output(kBatch)},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.silu_forward(a[0], a[1]); })});
  cases.push_back({"silu_backward_in_place",
                   {input(kLevel1), output(kLevel1)},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.silu_backward(a[0], a[1], a[1]); })});
  cases.push_back({"relu_forward", {input(kLevel2), output(kLevel2)}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.relu_forward(a[0], a[1]);
                   })});
  cases.push_back({"relu_backward",
                   {input(kLevel2), input(kLevel2), output(kLevel2)},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.relu_backward(a[0], a[1], a[2]); })});
  cases.push_back(
      {"add_channel_vector_forward_in_place",
       {output(kLevel0), input({128, 128})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.add_channel_vector_forward(a[0], a[1], a[0]); })});
  // The time embedding's gradient: column sums over 32 x 32 pixels (the bias kernels' column_sums).
  cases.push_back(
      {"add_channel_vector_backward",
       {input(kLevel0), output(kLevel0), output({128, 128})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.add_channel_vector_backward(a[0], a[1], a[2]); })});
  cases.push_back({"add",
                   {input(kLevel1), input(kLevel1), output(kLevel1)},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.add(a[0], a[1], a[2]); })});
  cases.push_back({"accumulate", {output(kLevel1), input(kLevel1)}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.accumulate(a[0], a[1]);
                   })});
  cases.push_back(
      {"fill_zero", {output(kLevel1)}, op([](Backend& b, const std::vector<Tensor>& a) { b.fill_zero(a[0]); })});
  cases.push_back({"scale", {input(kLevel1), output(kLevel1)}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.scale(a[0], -0.37f, a[1]);
                   })});
  // The adaptive group norm's modulation (scale_shift_norm): per sample and channel, scale first then shift.
  cases.push_back(
      {"scale_shift_channels_forward_in_place",
       {output(kLevel1), input({128, 512})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.scale_shift_channels_forward(a[0], a[1], a[0]); })});
  // Its parameter gradient sums 16 x 16 pixels per (sample, channel): another order than the CPU's.
  OpCase scale_shift_backward{"scale_shift_channels_backward",
                              {input(kLevel1), input({128, 512}), input(kLevel1), output(kLevel1), output({128, 512})},
                              op([](Backend& b, const std::vector<Tensor>& a) {
                                b.scale_shift_channels_backward(a[0], a[1], a[2], a[3], a[4]);
                              })};
  scale_shift_backward.rtol = 1e-5;
  scale_shift_backward.atol = 1e-5;
  cases.push_back(scale_shift_backward);
  cases.push_back(
      {"combine_per_sample",
       {input({128, 32, 32, 3}), input({128}), input({128, 32, 32, 3}), input({128}), output({128, 32, 32, 3})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.combine_per_sample(a[0], a[1], a[2], a[3], a[4]); })});
  cases.push_back({"clamp_in_place", {output({128, 32, 32, 3})}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.clamp(a[0], -0.5f, 0.25f, a[0]);
                   })});
}

void add_cast_cases(std::vector<OpCase>& cases) {
  const std::vector<std::pair<DType, DType>> casts = {{DType::F32, DType::BF16}, {DType::F32, DType::F16},
                                                      {DType::BF16, DType::F32}, {DType::F16, DType::F32},
                                                      {DType::BF16, DType::F16}, {DType::F16, DType::BF16}};
  for (const auto& [from, to] : casts)
    cases.push_back({std::string("cast_") + dtype_name(from) + "_to_" + dtype_name(to),
                     {typed(input(kLevel1), from), typed(output(kLevel1), to)},
                     op([](Backend& b, const std::vector<Tensor>& a) { b.cast(a[0], a[1]); })});
}

void add_group_norm_cases(std::vector<OpCase>& cases) {
  // Sums in double in other orders (chunks of pixels, then channels): within rounding of fp32 outputs.
  const double rtol = 1e-5, atol = 1e-5;
  for (const Fill fill : {Fill::Uniform, Fill::Offset}) {
    const std::string suffix = fill == Fill::Offset ? "_offset_mean" : "";
    cases.push_back(
        {"group_norm_forward" + suffix,
         {input(kLevel1, fill), input({256}), input({256}), output(kLevel1), output({128, 32}), output({128, 32})},
         op([](Backend& b, const std::vector<Tensor>& a) {
           b.group_norm_forward(a[0], a[1], a[2], 32, 1e-5f, a[3], a[4], a[5]);
         }),
         rtol,
         atol});
    cases.push_back({"group_norm_backward" + suffix,
                     {input(kLevel2, fill), input({256}), input({256}), output(kLevel2), output({128, 32}),
                      output({128, 32}), input(kLevel2), output(kLevel2), accumulated({256}), accumulated({256})},
                     op([](Backend& b, const std::vector<Tensor>& a) {
                       b.group_norm_forward(a[0], a[1], a[2], 32, 1e-5f, a[3], a[4], a[5]);
                       b.group_norm_backward(a[0], a[1], a[4], a[5], 32, a[6], a[7], a[8], a[9]);
                     }),
                     rtol,
                     1e-4});
  }
  for (const float p : {0.0f, 0.3f}) {
    const std::string suffix = p > 0.0f ? "_dropout" : "";
    const Dropout dropout{p, DropoutKey{42, 7, 100, 3}};
    // With dropout on the batch of 128 x 32 x 32 x 256, without on the first level's 32 x 32 x 128.
    const Shape x_forward = p > 0.0f ? kBatch : kLevel0;
    const int64_t channels = x_forward[3];
    cases.push_back({"group_norm_silu_forward" + std::string(p > 0.0f ? "_batch" : "") + suffix,
                     {input(x_forward), input({channels}), input({channels}), output(x_forward), output({128, 32}),
                      output({128, 32})},
                     op([dropout](Backend& b, const std::vector<Tensor>& a) {
                       b.group_norm_silu_forward(a[0], a[1], a[2], 32, 1e-5f, dropout, a[3], a[4], a[5]);
                     }),
                     rtol,
                     atol});
    // 6 channels in groups of 2 put Philox blocks across pixels and groups.
    const Shape x{128, 16, 16, 6};
    cases.push_back({"group_norm_silu_backward" + suffix,
                     {input(x), input({6}), input({6}), output(x), output({128, 3}), output({128, 3}), input(x),
                      output(x), accumulated({6}), accumulated({6})},
                     op([dropout](Backend& b, const std::vector<Tensor>& a) {
                       b.group_norm_silu_forward(a[0], a[1], a[2], 3, 1e-5f, dropout, a[3], a[4], a[5]);
                       b.group_norm_silu_backward(a[0], a[1], a[2], a[4], a[5], 3, dropout, a[6], a[7], a[8], a[9]);
                     }),
                     rtol,
                     1e-4});
  }
}

void add_loss_and_optimizer_cases(std::vector<OpCase>& cases) {
  // Per-sample sums in double, in the block's order rather than the CPU's: equal up to the fp32 rounding.
  cases.push_back({"mse_loss_forward_batch",
                   {input({128, 32, 32, 3}), input({128, 32, 32, 3}), input({128}, Fill::Positive), output({128})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.mse_loss_forward(a[0], a[1], a[2], a[3]); }),
                   1e-6,
                   1e-7});
  cases.push_back(
      {"mse_loss_backward_batch",
       {input({128, 32, 32, 3}), input({128, 32, 32, 3}), input({128}, Fill::Positive), output({128, 32, 32, 3})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.mse_loss_backward(a[0], a[1], a[2], 0.25f, a[3]); })});
  cases.push_back(
      {"mse_loss_backward_scale_state",
       {input({128, 32, 32, 3}), input({128, 32, 32, 3}), input({128}, Fill::Positive), output({128, 32, 32, 3})},
       op([](Backend& b, const std::vector<Tensor>& a) {
         b.mse_loss_backward(a[0], a[1], a[2], {1.0f / 128, scale_state(65536.0)}, a[3]);
       })});
  cases.push_back(
      {"pseudo_huber_loss_forward_batch",
       {input({128, 32, 32, 3}), input({128, 32, 32, 3}), input({128}, Fill::Positive), output({128})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.pseudo_huber_loss_forward(a[0], a[1], a[2], 0.03f, a[3]); }),
       1e-6,
       1e-7});
  // The per-sample coefficient comes from a double sum in the block's order: equal up to the fp32 rounding.
  cases.push_back(
      {"pseudo_huber_loss_backward_batch",
       {input({128, 32, 32, 3}), input({128, 32, 32, 3}), input({128}, Fill::Positive), output({128, 32, 32, 3})},
       op([](Backend& b, const std::vector<Tensor>& a) {
         b.pseudo_huber_loss_backward(a[0], a[1], a[2], 0.03f, 0.25f, a[3]);
       }),
       1e-6,
       1e-7});
  cases.push_back(
      {"pseudo_huber_loss_backward_scale_state",
       {input({128, 32, 32, 3}), input({128, 32, 32, 3}), input({128}, Fill::Positive), output({128, 32, 32, 3})},
       op([](Backend& b, const std::vector<Tensor>& a) {
         b.pseudo_huber_loss_backward(a[0], a[1], a[2], 0.03f, {1.0f / 128, scale_state(65536.0)}, a[3]);
       }),
       1e-6,
       1e-7});
  // Parameter buffers of 9M elements (the CIFAR-10 DDPM model has about 36M parameters).
  const Shape params{9'000'011};
  for (const bool decided : {false, true}) {
    cases.push_back({decided ? "adamw_update_decided" : "adamw_update",
                     {output(params), input(params), output(params), Arg{params, Role::Output, Fill::Positive}},
                     op([decided](Backend& b, const std::vector<Tensor>& a) {
                       AdamWStep step;
                       step.lr = 1e-3f;
                       step.weight_decay = 0.01f;
                       step.step = 3;
                       step.grad_scale = decided ? 1.0f : 0.5f;
                       b.adamw_update(a[0], a[1], a[2], a[3], step, decided ? decision(0.5f, false) : kNone);
                     })});
  }
  cases.push_back({"ema_update", {output(params), input(params)}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.ema_update(a[0], a[1], 0.9999f, kNone);
                   })});
  // A skipped step: every thread of the grid returns at once, leaving the buffers as they were.
  cases.push_back({"adamw_update_skipped",
                   {output(params), input(params), output(params), Arg{params, Role::Output, Fill::Positive}},
                   op([](Backend& b, const std::vector<Tensor>& a) {
                     b.adamw_update(a[0], a[1], a[2], a[3], AdamWStep{}, decision(1.0f, true));
                   })});
  cases.push_back(
      {"ema_update_skipped", {output(params), input(params)}, op([](Backend& b, const std::vector<Tensor>& a) {
         b.ema_update(a[0], a[1], 0.9999f, decision(1.0f, true));
       })});
  // 1024 block partials added in a fixed order instead of the CPU's: equal to double rounding.
  cases.push_back({"sum_of_squares",
                   {input(params)},
                   [](Backend& b, const std::vector<Tensor>& a) {
                     const Tensor result = Tensor::empty({2});
                     b.sum_of_squares(a[0], result);
                     double sum = 0.0;
                     std::memcpy(&sum, result.raw(), sizeof(sum));
                     return sum;
                   },
                   1e-12,
                   0.0});
}

void add_random_cases(std::vector<OpCase>& cases) {
  cases.push_back(
      {"dropout_forward", {input(kLevel1), output(kLevel1)}, op([](Backend& b, const std::vector<Tensor>& a) {
         b.dropout_forward(a[0], 0.3f, DropoutKey{42, 7, 100, 3}, a[1]);
       })});
  cases.push_back({"dropout_backward_in_place", {output({128, 5, 7})}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.dropout_backward(a[0], 0.3f, DropoutKey{42, 7, 100, 3}, a[0]);
                   })});
  cases.push_back({"dropout_zero_probability",
                   {input({128, 5, 7}), output({128, 5, 7})},
                   op([](Backend& b, const std::vector<Tensor>& a) {
                     b.dropout_forward(a[0], 0.0f, DropoutKey{42, 7, 100, 3}, a[1]);
                   })});
  cases.push_back({"fill_uniform", {output({128, 32, 32, 3})}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.fill_uniform(a[0], 1234, kPurposeNoise, 7, 100);
                   })});
  // Rows of 1031 elements end in a partial Philox block.
  cases.push_back({"fill_normal", {output({128, 32, 32, 3})}, op([](Backend& b, const std::vector<Tensor>& a) {
                     b.fill_normal(a[0], 1234, kPurposeNoise, 7, 100);
                   })});
  cases.push_back(
      {"fill_normal_partial_blocks", {output({128, 1031})}, op([](Backend& b, const std::vector<Tensor>& a) {
         b.fill_normal(a[0], 1234, kPurposeNoise, 7, 100);
       })});
}

void add_resampling_cases(std::vector<OpCase>& cases) {
  cases.push_back({"upsample_forward",
                   {input(kLevel2), output(kLevel1)},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.upsample_nearest2x_forward(a[0], a[1]); })});
  cases.push_back({"upsample_backward",
                   {input(kLevel1), output(kLevel2)},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.upsample_nearest2x_backward(a[0], a[1]); })});
  cases.push_back({"concat_channels",
                   {input(kLevel2), input(kLevel2), output({128, 8, 8, 512})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.concat_channels(a[0], a[1], a[2]); })});
  cases.push_back({"split_channels",
                   {input({128, 8, 8, 512}), output(kLevel2), output(kLevel2)},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.split_channels(a[0], a[1], a[2]); })});
  cases.push_back({"split_channels_second_only",
                   {input({128, 8, 8, 384}), output({128, 8, 8, 128})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.split_channels(a[0], kNone, a[1]); })});
}

void add_pooling_and_resize_cases(std::vector<OpCase>& cases) {
  // The evaluation network's stem: 3x3 windows over 64 channels.
  for (const Pool2dWindow pool : {Pool2dWindow{3, 2, 0}, Pool2dWindow{3, 1, 1}}) {
    const std::string suffix = "_3_stride" + std::to_string(pool.stride) + "_pad" + std::to_string(pool.padding);
    const int64_t out = (35 + 2 * pool.padding - 3) / pool.stride + 1;
    const Shape x{16, 35, 35, 64}, y{16, out, out, 64};
    cases.push_back({"max_pool_forward" + suffix,
                     {input(x), output(y)},
                     op([pool](Backend& b, const std::vector<Tensor>& a) { b.max_pool2d_forward(a[0], a[1], pool); })});
    cases.push_back(
        {"max_pool_backward" + suffix,
         {input(x), input(y), output(x)},
         op([pool](Backend& b, const std::vector<Tensor>& a) { b.max_pool2d_backward(a[0], a[1], a[2], pool); })});
    cases.push_back({"avg_pool_forward" + suffix,
                     {input(x), output(y)},
                     op([pool](Backend& b, const std::vector<Tensor>& a) { b.avg_pool2d_forward(a[0], a[1], pool); })});
    cases.push_back(
        {"avg_pool_backward" + suffix, {input(y), output(x)}, op([pool](Backend& b, const std::vector<Tensor>& a) {
           b.avg_pool2d_backward(a[0], a[1], pool);
         })});
  }
  cases.push_back({"global_avg_pool_forward",
                   {input({128, 8, 8, 256}), output({128, 256})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.global_avg_pool_forward(a[0], a[1]); })});
  cases.push_back({"global_avg_pool_backward",
                   {input({128, 256}), output({128, 8, 8, 256})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.global_avg_pool_backward(a[0], a[1]); })});
  for (const auto& [from, to] : std::vector<std::pair<Shape, Shape>>{{{16, 32, 32, 3}, {16, 299, 299, 3}},
                                                                     {{16, 299, 299, 3}, {16, 32, 32, 3}},
                                                                     {{16, 32, 32, 3}, {16, 224, 224, 3}}}) {
    const std::string suffix = "_" + std::to_string(from[1]) + "_to_" + std::to_string(to[1]);
    cases.push_back({"resize_bilinear_forward" + suffix,
                     {input(from), output(to)},
                     op([](Backend& b, const std::vector<Tensor>& a) { b.resize_bilinear_forward(a[0], a[1]); })});
    cases.push_back({"resize_bilinear_backward" + suffix,
                     {input(to), output(from)},
                     op([](Backend& b, const std::vector<Tensor>& a) { b.resize_bilinear_backward(a[0], a[1]); })});
  }
}

void add_embedding_and_classifier_cases(std::vector<OpCase>& cases) {
  // sin and cos of angles in double: the same libm on both sides here.
  cases.push_back({"timestep_embedding_forward",
                   {input({128}, Fill::Times), output({128, 128})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.timestep_embedding_forward(a[0], a[1]); })});
  // A warp's sum in double in another order than the CPU's loop.
  cases.push_back(
      {"timestep_embedding_backward",
       {input({128}, Fill::Times), input({128, 128}), output({128})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.timestep_embedding_backward(a[0], a[1], a[2]); }),
       1e-6,
       1e-6});
  cases.push_back({"embedding_forward",
                   {input({10, 512}), labels({128}, 10), output({128, 512})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.embedding_forward(a[0], a[1], a[2]); })});
  cases.push_back({"embedding_backward",
                   {labels({128}, 10), input({128, 512}), accumulated({10, 512})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.embedding_backward(a[0], a[1], a[2]); })});
  // exp and log in double, summed by a warp in another order: within double rounding of fp32 results.
  cases.push_back({"cross_entropy_forward",
                   {input({128, 1000}), labels({128}, 1000), output({128})},
                   op([](Backend& b, const std::vector<Tensor>& a) { b.cross_entropy_forward(a[0], a[1], a[2]); }),
                   1e-6,
                   1e-7});
  cases.push_back(
      {"cross_entropy_backward",
       {input({128, 1000}), labels({128}, 1000), output({128, 1000})},
       op([](Backend& b, const std::vector<Tensor>& a) { b.cross_entropy_backward(a[0], a[1], 0.5f, a[2]); }),
       1e-6,
       1e-7});
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  add_elementwise_cases(cases);
  add_cast_cases(cases);
  add_group_norm_cases(cases);
  add_loss_and_optimizer_cases(cases);
  add_random_cases(cases);
  add_resampling_cases(cases);
  add_pooling_and_resize_cases(cases);
  add_embedding_and_classifier_cases(cases);
  return cases;
}

Backend& emulated_backend() {
  static cuda::CudaBackend backend;
  return backend;
}

class EmulatedKernels : public ::testing::TestWithParam<OpCase> {};

TEST_P(EmulatedKernels, MatchCpu) {
  const OpCase& op = GetParam();
  const cuda_emulation::ScopedBlockCap cap(kCappedBlocks);
  std::vector<Tensor> reference, emulated;
  for (size_t i = 0; i < op.args.size(); ++i) {
    reference.push_back(make_argument(op.args[i], 1000 + i));
    emulated.push_back(copy_to(reference.back(), Device::CPU));
  }
  const double expected = op.call(backend_for(Device::CPU), reference);
  const double actual = op.call(emulated_backend(), emulated);
  EXPECT_NEAR(actual, expected, op.rtol * std::fabs(expected) + op.atol) << op.name << ": returned value";
  for (size_t i = 0; i < reference.size(); ++i)
    testing::expect_close(emulated[i], reference[i], op.rtol, op.atol, op.name + " argument " + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(AllKernels, EmulatedKernels, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; });

// The ops that take bf16 and f16 activations (tests/support/low_precision_cases.h), both backends in low precision,
// at the table's small sizes (the fp32 entries above cover the realistic ones; the storage type changes no indexing).
class EmulatedLowPrecisionKernels : public ::testing::TestWithParam<std::tuple<testing::LowPrecisionCase, DType>> {};

TEST_P(EmulatedLowPrecisionKernels, MatchCpu) {
  const auto& [op, dtype] = GetParam();
  const cuda_emulation::ScopedBlockCap cap(kCappedBlocks);
  const std::vector<Tensor> reference = testing::make_case_arguments(op, dtype);
  std::vector<Tensor> emulated;
  for (const Tensor& tensor : reference) emulated.push_back(copy_to(tensor, Device::CPU));
  op.call(backend_for(Device::CPU), reference);
  op.call(emulated_backend(), emulated);
  // Where the kernels sum in another order, the fp32 results agree to 1e-5 (as in add_group_norm_cases) and their
  // roundings to the storage type may then lie one unit in the last place apart: 2u relative (u = 2^-8 for bf16,
  // 2^-11 for f16).
  const double unit_roundoff = dtype == DType::BF16 ? 0x1p-8 : 0x1p-11;
  const double rtol = op.same_arithmetic_on_both_backends ? 0.0 : 1e-5 + 2 * unit_roundoff;
  const double atol = op.same_arithmetic_on_both_backends ? 0.0 : 1e-4;
  for (size_t i = 0; i < reference.size(); ++i)
    testing::expect_close(emulated[i], reference[i], rtol, atol, op.name + " argument " + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(SharedTable, EmulatedLowPrecisionKernels,
                         ::testing::Combine(::testing::ValuesIn(testing::low_precision_cases()),
                                            ::testing::Values(DType::BF16, DType::F16)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + dtype_name(std::get<1>(info.param));
                         });

// The step decision kernel against the CPU's, step by step through finite, clipped, overflowing (inf and NaN) and
// growing steps, from four partial sums (four ranks' shards): the same state to the bit.
TEST(EmulatedStepDecision, MatchesCpuStepByStep) {
  StepRule rule;
  rule.growth_interval = 3;
  rule.grad_clip = 1.0;
  StepState initial;
  initial.scale = 1024.0;
  Tensor cpu_state = Tensor::empty({kStepStateFloats}), emulated_state = Tensor::empty({kStepStateFloats});
  std::memcpy(cpu_state.raw(), &initial, sizeof(initial));
  std::memcpy(emulated_state.raw(), &initial, sizeof(initial));
  const double inf = std::numeric_limits<double>::infinity();
  for (double squares : {2.0e5, 9.0e6, inf, std::nan(""), 0.01, 3.0, 3.0, 3.0, 1e30, 0.0}) {
    SCOPED_TRACE(squares);
    const double partials[4] = {squares * 0.125, squares * 0.25, squares * 0.5, squares * 0.125};
    const Tensor partial_squares = Tensor::empty({8});
    std::memcpy(partial_squares.raw(), partials, sizeof(partials));
    backend_for(Device::CPU).decide_step(partial_squares, rule, cpu_state);
    emulated_backend().decide_step(partial_squares, rule, emulated_state);
    EXPECT_EQ(std::memcmp(cpu_state.raw(), emulated_state.raw(), sizeof(StepState)), 0);
  }
  StepState last;
  std::memcpy(&last, emulated_state.raw(), sizeof(last));
  EXPECT_EQ(last.skipped_steps, 2);
  EXPECT_EQ(last.scale, 1024.0);  // halved twice, grown twice
}

// The loss backwards read the dynamic loss scale from a step state inside the kernel: the same gradients, bit for
// bit, as with that scale times the factor passed from the host.
TEST(EmulatedLossScale, StateScaleMatchesHostScale) {
  const cuda_emulation::ScopedBlockCap cap(kCappedBlocks);
  const Tensor pred = testing::random_tensor({16, 8, 8, 3}, 80), target = testing::random_tensor({16, 8, 8, 3}, 81);
  const Tensor weights = testing::random_tensor({16}, 82, 0.5f, 2.0f);
  const float factor = 1.0f / 48;
  for (const double scale : {1.0, 65536.0, 3.0}) {
    SCOPED_TRACE(scale);
    const ops::LossScale from_state(factor, scale_state(scale)), from_host(factor * static_cast<float>(scale));
    Tensor state_dpred = Tensor::empty(pred.shape()), host_dpred = Tensor::empty(pred.shape());
    emulated_backend().mse_loss_backward(pred, target, weights, from_state, state_dpred);
    emulated_backend().mse_loss_backward(pred, target, weights, from_host, host_dpred);
    EXPECT_EQ(to_vector(state_dpred), to_vector(host_dpred));
    emulated_backend().pseudo_huber_loss_backward(pred, target, weights, 0.03f, from_state, state_dpred);
    emulated_backend().pseudo_huber_loss_backward(pred, target, weights, 0.03f, from_host, host_dpred);
    EXPECT_EQ(to_vector(state_dpred), to_vector(host_dpred));
  }
}

// The row softmax of attention over 256 tokens (a 16 x 16 feature map), forward and backward, against double
// references: the CPU computes e^x with exp_vectorizable and the GPU with expf, a few ulps apart. The bf16 copies
// are the fp32 results rounded once.
TEST(EmulatedSoftmax, RowsMatchDoubleReferences) {
  const int64_t rows = 16 * 256, width = 256;
  const Tensor scores = testing::random_tensor({rows, width}, 7, -8.0f, 8.0f);
  const Tensor grads = testing::random_tensor({rows, width}, 8);
  Tensor probs = copy_to(scores, Device::CPU), low = Tensor::empty({rows, width}, DType::BF16);
  cuda::softmax_rows(probs.f32(), low, rows, width);
  Tensor score_grads = copy_to(grads, Device::CPU), low_grads = Tensor::empty({rows, width}, DType::F16);
  cuda::softmax_rows_backward(probs.f32(), score_grads.f32(), low_grads, rows, width);
  Tensor in_place = copy_to(grads, Device::CPU);
  cuda::softmax_rows_backward(probs.f32(), in_place.f32(), kNone, rows, width);

  std::vector<double> expected_probs(rows * width), expected_grads(rows * width);
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = scores.f32() + r * width;
    double largest = s[0], total = 0.0, dot = 0.0;
    for (int64_t j = 0; j < width; ++j) largest = std::max<double>(largest, s[j]);
    for (int64_t j = 0; j < width; ++j) total += std::exp(s[j] - largest);
    for (int64_t j = 0; j < width; ++j) expected_probs[r * width + j] = std::exp(s[j] - largest) / total;
    for (int64_t j = 0; j < width; ++j)
      dot += static_cast<double>(probs.f32()[r * width + j]) * grads.f32()[r * width + j];
    for (int64_t j = 0; j < width; ++j)
      expected_grads[r * width + j] = probs.f32()[r * width + j] * (grads.f32()[r * width + j] - dot);
  }
  testing::expect_close(probs, testing::from_doubles(expected_probs, {rows, width}), 1e-5, 1e-9, "probabilities");
  testing::expect_close(in_place, testing::from_doubles(expected_grads, {rows, width}), 1e-4, 1e-8, "score gradients");
  for (int64_t i = 0; i < rows * width; ++i) {
    ASSERT_EQ(static_cast<const bf16*>(low.raw())[i].bits, float_to_bf16(probs.f32()[i]).bits)
        << "bf16 probability " << i;
    ASSERT_EQ(static_cast<const f16*>(low_grads.raw())[i].bits, float_to_f16(in_place.f32()[i]).bits)
        << "f16 score gradient " << i;
  }
  testing::expect_close(score_grads, grads, 0.0, 0.0, "d probs, left alone when the result goes to the copy");
}

// The convolution epilogue (a bf16 or f16 product widened, plus bias and skip connection), the bias broadcast
// before a linear layer's GEMM and the fold of a low-precision gradient: against loops, bit for bit. 128 x 32 x 32
// pixels of 128 channels, the first level's convolution output.
TEST(EmulatedBiasKernels, EpilogueBroadcastAndWideningMatchLoops) {
  const cuda_emulation::ScopedBlockCap cap(kCappedBlocks);
  const int64_t rows = 128 * 32 * 32, cols = 128;
  const Tensor bias = testing::random_tensor({cols}, 11), residual = testing::random_tensor({rows, cols}, 12);
  for (const DType low : {DType::BF16, DType::F16}) {
    Tensor product = Tensor::empty({rows, cols}, low);
    ops::cast(testing::random_tensor({rows, cols}, 13), product);
    Tensor y = Tensor::empty({rows, cols}), expected = Tensor::empty({rows, cols});
    cuda::bias_epilogue(product.raw(), low, bias.f32(), residual.raw(), rows, cols, y.raw(), DType::F32);
    Tensor widened = Tensor::empty({rows, cols});
    ops::cast(product, widened);
    for (int64_t i = 0; i < rows * cols; ++i)
      expected.f32()[i] = widened.f32()[i] + bias.f32()[i % cols] + residual.f32()[i];
    testing::expect_close(y, expected, 0.0, 0.0, std::string("bias epilogue of ") + dtype_name(low));

    Tensor sum = copy_to(residual, Device::CPU);
    cuda::add_widened(product.raw(), low, sum.f32(), rows * cols);
    for (int64_t i = 0; i < rows * cols; ++i) expected.f32()[i] = residual.f32()[i] + widened.f32()[i];
    testing::expect_close(sum, expected, 0.0, 0.0, std::string("add_widened of ") + dtype_name(low));
  }
  Tensor broadcast = Tensor::empty({rows, cols}), expected = Tensor::empty({rows, cols});
  cuda::fill_rows(broadcast.f32(), rows, cols, bias.f32());
  for (int64_t i = 0; i < rows * cols; ++i) expected.f32()[i] = bias.f32()[i % cols];
  testing::expect_close(broadcast, expected, 0.0, 0.0, "fill_rows");
}

// Low-precision activations: the epilogue's bf16 or f16 output (from a GEMM's fp32 result, or in place on a
// convolution's own output, plus bias and skip connection) is the fp32 sum rounded once, and the column sums of
// bf16 or f16 rows (their bias gradients) are those of the widened rows, bit for bit.
TEST(EmulatedBiasKernels, LowPrecisionOutputsRoundOnceAndColumnSumsWiden) {
  const cuda_emulation::ScopedBlockCap cap(kCappedBlocks);
  const int64_t rows = 64 * 16, cols = 96;
  const Tensor bias = testing::random_tensor({cols}, 21), source = testing::random_tensor({rows, cols}, 22);
  for (const DType low : {DType::BF16, DType::F16}) {
    const std::string name = dtype_name(low);
    Tensor residual = Tensor::empty({rows, cols}, low), residual_wide = testing::random_tensor({rows, cols}, 23);
    ops::cast(residual_wide, residual);
    ops::cast(residual, residual_wide);
    Tensor sum = Tensor::empty({rows, cols}), expected = Tensor::empty({rows, cols}, low);
    for (int64_t i = 0; i < rows * cols; ++i)
      sum.f32()[i] = source.f32()[i] + bias.f32()[i % cols] + residual_wide.f32()[i];
    ops::cast(sum, expected);
    Tensor y = Tensor::empty({rows, cols}, low);
    cuda::bias_epilogue(source.raw(), DType::F32, bias.f32(), residual.raw(), rows, cols, y.raw(), low);
    testing::expect_close(y, expected, 0.0, 0.0, "epilogue of an fp32 product into " + name);

    Tensor in_place = copy_to(residual, Device::CPU);
    for (int64_t i = 0; i < rows * cols; ++i) sum.f32()[i] = residual_wide.f32()[i] + bias.f32()[i % cols];
    ops::cast(sum, expected);
    cuda::bias_epilogue(in_place.raw(), low, bias.f32(), nullptr, rows, cols, in_place.raw(), low);
    testing::expect_close(in_place, expected, 0.0, 0.0, "epilogue in place on a " + name + " product");

    Tensor sums = Tensor::empty({cols}), expected_sums = Tensor::empty({cols});
    cuda::column_sums(residual.raw(), low, 1, rows, cols, sums.f32(), cuda::Reduce::Write);
    cuda::column_sums(residual_wide.f32(), 1, rows, cols, expected_sums.f32(), cuda::Reduce::Write);
    testing::expect_close(sums, expected_sums, 0.0, 0.0, "column sums of " + name + " rows");
  }
}

// group_norm's chunk grid and column_sums' grid have a block row per sample: 65535 samples reach CUDA's limit
// on grid y, one more is refused before anything runs.
TEST(EmulatedGridLimits, BatchesReachTheGridYLimit) {
  const int64_t batch = 65535;
  const Tensor x = testing::random_tensor({batch, 1, 2, 32}, 3), gamma = testing::random_tensor({32}, 4),
               beta = testing::random_tensor({32}, 5);
  Tensor y = Tensor::empty(x.shape()), mean = Tensor::empty({batch, 8}), rstd = Tensor::empty({batch, 8});
  Tensor y_cpu = Tensor::empty(x.shape()), mean_cpu = Tensor::empty({batch, 8}), rstd_cpu = Tensor::empty({batch, 8});
  emulated_backend().group_norm_forward(x, gamma, beta, 8, 1e-5f, y, mean, rstd);
  backend_for(Device::CPU).group_norm_forward(x, gamma, beta, 8, 1e-5f, y_cpu, mean_cpu, rstd_cpu);
  testing::expect_close(y, y_cpu, 1e-5, 1e-5, "group norm of 65535 samples");
  testing::expect_close(rstd, rstd_cpu, 1e-5, 1e-5, "their rstd");

  Tensor sums = Tensor::empty({batch, 32}), sums_cpu = Tensor::empty({batch, 32});
  emulated_backend().add_channel_vector_backward(x, x, sums);
  backend_for(Device::CPU).add_channel_vector_backward(x, x, sums_cpu);
  testing::expect_close(sums, sums_cpu, 0.0, 0.0, "column sums of 65535 batches");

  const Tensor one_more = testing::random_tensor({batch + 1, 1, 1, 32}, 6);
  Tensor y_more = Tensor::empty(one_more.shape()), mean_more = Tensor::empty({batch + 1, 8}),
         rstd_more = Tensor::empty({batch + 1, 8});
  const std::string message = testing::error_message(
      [&] { emulated_backend().group_norm_forward(one_more, gamma, beta, 8, 1e-5f, y_more, mean_more, rstd_more); });
  EXPECT_NE(message.find("65536 samples exceeds the grid's y extent (65535)"), std::string::npos) << message;
  Tensor sums_more = Tensor::empty({batch + 1, 32});
  EXPECT_NE(testing::error_message([&] {
              emulated_backend().add_channel_vector_backward(one_more, one_more, sums_more);
            }).find("exceed the grid's y extent"),
            std::string::npos);
}

// Out-of-range labels recorded by a kernel surface at the next check, once.
TEST(EmulatedFaults, OutOfRangeLabelIsReported) {
  const Tensor table = testing::random_tensor({6, 8}, 1);
  Tensor bad_labels = Tensor::empty({3}, DType::I32);
  bad_labels.i32()[0] = 1;
  bad_labels.i32()[1] = 7;
  bad_labels.i32()[2] = 2;
  Tensor out = Tensor::empty({3, 8});
  emulated_backend().embedding_forward(table, bad_labels, out);
  const std::string message = testing::error_message([] { cuda::context().check_faults(); });
  EXPECT_NE(message.find("embedding_forward: label 7 of sample 1"), std::string::npos) << message;
  EXPECT_NO_THROW(cuda::context().check_faults());
  for (int64_t d = 0; d < 8; ++d) EXPECT_EQ(out.f32()[8 + d], 0.0f) << "the bad sample's row is zero";

  Tensor losses = Tensor::empty({3});
  emulated_backend().cross_entropy_forward(testing::random_tensor({3, 6}, 2), bad_labels, losses);
  const std::string cross_entropy = testing::error_message([] { cuda::context().check_faults(); });
  EXPECT_NE(cross_entropy.find("cross_entropy: label 7 of sample 1 is outside [0, K=6)"), std::string::npos)
      << cross_entropy;
}

}  // namespace
}  // namespace diffuse
