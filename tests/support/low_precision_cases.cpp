#include "tests/support/low_precision_cases.h"

#include <ostream>

namespace diffuse::testing {

namespace {

using Args = std::vector<Tensor>;

// Feature maps of 24 x 24 pixels: three of the CPU's group norm chunks, the last one partial.
const Shape kMap{2, 24, 24, 32}, kHalfMap{2, 12, 12, 32};
const Shape kStatistics{2, 8};  // 8 groups of 4 channels
const Dropout kDropout{0.3f, DropoutKey{42, 7, 100, 3}};

void add_elementwise_cases(std::vector<LowPrecisionCase>& cases) {
  cases.push_back(
      {"silu_forward", {input(kMap), output(kMap)}, [](Backend& b, const Args& a) { b.silu_forward(a[0], a[1]); }});
  cases.push_back({"silu_backward_in_place", {input(kMap), output(kMap)}, [](Backend& b, const Args& a) {
                     b.silu_backward(a[0], a[1], a[1]);
                   }});
  cases.push_back(
      {"add", {input(kMap), input(kMap), output(kMap)}, [](Backend& b, const Args& a) { b.add(a[0], a[1], a[2]); }});
  cases.push_back(
      {"accumulate", {output(kMap), input(kMap)}, [](Backend& b, const Args& a) { b.accumulate(a[0], a[1]); }});
  cases.push_back({"scale_in_place", {output(kMap)}, [](Backend& b, const Args& a) { b.scale(a[0], -0.37f, a[0]); }});
  cases.push_back({"add_channel_vector_forward",
                   {input(kMap), fp32(input({2, 32})), output(kMap)},
                   [](Backend& b, const Args& a) { b.add_channel_vector_forward(a[0], a[1], a[2]); }});
  cases.push_back({"add_channel_vector_backward",
                   {input(kMap), output(kMap), fp32(output({2, 32}))},
                   [](Backend& b, const Args& a) { b.add_channel_vector_backward(a[0], a[1], a[2]); }});
  cases.push_back({"scale_shift_channels_forward_in_place",
                   {output(kMap), fp32(input({2, 64}))},
                   [](Backend& b, const Args& a) { b.scale_shift_channels_forward(a[0], a[1], a[0]); }});
  cases.push_back({"scale_shift_channels_backward_in_place",
                   {input(kMap), fp32(input({2, 64})), output(kMap), fp32(output({2, 64}))},
                   [](Backend& b, const Args& a) { b.scale_shift_channels_backward(a[0], a[1], a[2], a[2], a[3]); },
                   false});
  cases.push_back(
      {"relu_forward", {input(kMap), output(kMap)}, [](Backend& b, const Args& a) { b.relu_forward(a[0], a[1]); }});
  cases.push_back({"relu_backward", {input(kMap), input(kMap), output(kMap)}, [](Backend& b, const Args& a) {
                     b.relu_backward(a[0], a[1], a[2]);
                   }});
  // Bounds inside U(-1, 1), so both clip.
  cases.push_back(
      {"clamp_in_place", {output(kMap)}, [](Backend& b, const Args& a) { b.clamp(a[0], -0.5f, 0.625f, a[0]); }});
  // y in q's place, as the samplers' updates call it; the per-sample factors stay f32.
  cases.push_back({"combine_per_sample_in_place",
                   {input(kMap), fp32(input({2})), output(kMap), fp32(input({2}))},
                   [](Backend& b, const Args& a) { b.combine_per_sample(a[0], a[1], a[2], a[3], a[2]); }});
  cases.push_back({"dropout_forward", {input(kMap), output(kMap)}, [](Backend& b, const Args& a) {
                     b.dropout_forward(a[0], kDropout.p, kDropout.key, a[1]);
                   }});
  cases.push_back({"dropout_backward_in_place", {output({2, 5, 7})}, [](Backend& b, const Args& a) {
                     b.dropout_backward(a[0], kDropout.p, kDropout.key, a[0]);
                   }});
}

void add_resampling_cases(std::vector<LowPrecisionCase>& cases) {
  cases.push_back({"upsample_nearest2x_forward", {input(kHalfMap), output(kMap)}, [](Backend& b, const Args& a) {
                     b.upsample_nearest2x_forward(a[0], a[1]);
                   }});
  cases.push_back({"upsample_nearest2x_backward", {input(kMap), output(kHalfMap)}, [](Backend& b, const Args& a) {
                     b.upsample_nearest2x_backward(a[0], a[1]);
                   }});
  cases.push_back({"concat_channels",
                   {input(kMap), input({2, 24, 24, 16}), output({2, 24, 24, 48})},
                   [](Backend& b, const Args& a) { b.concat_channels(a[0], a[1], a[2]); }});
  cases.push_back({"split_channels",
                   {input({2, 24, 24, 48}), output(kMap), output({2, 24, 24, 16})},
                   [](Backend& b, const Args& a) { b.split_channels(a[0], a[1], a[2]); }});
  // The ResBlock's downsampling (2x2, stride 2), and overlapping windows whose gradients add up (max pooling's too).
  for (const Pool2dWindow window : {Pool2dWindow{2, 2, 0}, Pool2dWindow{3, 1, 1}}) {
    const std::string suffix = "_" + std::to_string(window.kernel) + "_stride" + std::to_string(window.stride);
    const Shape pooled = window.stride == 2 ? kHalfMap : kMap;
    cases.push_back({"avg_pool2d_forward" + suffix, {input(kMap), output(pooled)}, [window](Backend& b, const Args& a) {
                       b.avg_pool2d_forward(a[0], a[1], window);
                     }});
    cases.push_back({"avg_pool2d_backward" + suffix,
                     {input(pooled), output(kMap)},
                     [window](Backend& b, const Args& a) { b.avg_pool2d_backward(a[0], a[1], window); }});
    cases.push_back({"max_pool2d_forward" + suffix, {input(kMap), output(pooled)}, [window](Backend& b, const Args& a) {
                       b.max_pool2d_forward(a[0], a[1], window);
                     }});
    // Ties in the rounded inputs route the gradient to the first maximal tap in both types alike.
    cases.push_back({"max_pool2d_backward" + suffix,
                     {input(kMap), input(pooled), output(kMap)},
                     [window](Backend& b, const Args& a) { b.max_pool2d_backward(a[0], a[1], a[2], window); }});
  }
  cases.push_back({"global_avg_pool_forward", {input(kMap), output({2, 32})}, [](Backend& b, const Args& a) {
                     b.global_avg_pool_forward(a[0], a[1]);
                   }});
  cases.push_back({"global_avg_pool_backward", {input({2, 32}), output(kMap)}, [](Backend& b, const Args& a) {
                     b.global_avg_pool_backward(a[0], a[1]);
                   }});
  // Upscaling by 2 (each input pixel's gradient gathers several outputs') and downscaling by uneven ratios, 24 to
  // 10 rows and 15 columns (some input pixels feed no output).
  for (const auto& [from, to] : {std::pair{kHalfMap, kMap}, std::pair{kMap, Shape{2, 10, 15, 32}}}) {
    const std::string suffix =
        "_" + std::to_string(from[1]) + "_to_" + std::to_string(to[1]) + "x" + std::to_string(to[2]);
    cases.push_back({"resize_bilinear_forward" + suffix, {input(from), output(to)}, [](Backend& b, const Args& a) {
                       b.resize_bilinear_forward(a[0], a[1]);
                     }});
    cases.push_back({"resize_bilinear_backward" + suffix, {input(to), output(from)}, [](Backend& b, const Args& a) {
                       b.resize_bilinear_backward(a[0], a[1]);
                     }});
  }
}

void add_group_norm_cases(std::vector<LowPrecisionCase>& cases) {
  for (const Fill fill : {Fill::Uniform, Fill::Offset}) {
    const std::string suffix = fill == Fill::Offset ? "_offset_mean" : "";
    cases.push_back(
        {"group_norm_forward" + suffix,
         {input(kMap, fill), fp32(input({32})), fp32(input({32})), output(kMap), fp32(output(kStatistics)),
          fp32(output(kStatistics))},
         [](Backend& b, const Args& a) { b.group_norm_forward(a[0], a[1], a[2], 8, 1e-5f, a[3], a[4], a[5]); },
         false});
    cases.push_back(
        {"group_norm_backward" + suffix,
         {input(kMap, fill), fp32(input({32})), fp32(input({32})), output(kMap), fp32(output(kStatistics)),
          fp32(output(kStatistics)), input(kMap), output(kMap), fp32(accumulated({32})), fp32(accumulated({32}))},
         [](Backend& b, const Args& a) {
           b.group_norm_forward(a[0], a[1], a[2], 8, 1e-5f, a[3], a[4], a[5]);
           b.group_norm_backward(a[0], a[1], a[4], a[5], 8, a[6], a[7], a[8], a[9]);
         },
         false});
  }
  for (const float p : {0.0f, kDropout.p}) {
    const std::string suffix = p > 0.0f ? "_dropout" : "";
    const Dropout dropout{p, kDropout.key};
    cases.push_back({"group_norm_silu_forward" + suffix,
                     {input(kMap), fp32(input({32})), fp32(input({32})), output(kMap), fp32(output(kStatistics)),
                      fp32(output(kStatistics))},
                     [dropout](Backend& b, const Args& a) {
                       b.group_norm_silu_forward(a[0], a[1], a[2], 8, 1e-5f, dropout, a[3], a[4], a[5]);
                     },
                     false});
    // dx in place of dy, as the ResBlock calls it.
    cases.push_back({"group_norm_silu_backward_in_place" + suffix,
                     {input(kMap), fp32(input({32})), fp32(input({32})), output(kMap), fp32(output(kStatistics)),
                      fp32(output(kStatistics)), output(kMap), fp32(accumulated({32})), fp32(accumulated({32}))},
                     [dropout](Backend& b, const Args& a) {
                       b.group_norm_silu_forward(a[0], a[1], a[2], 8, 1e-5f, dropout, a[3], a[4], a[5]);
                       b.group_norm_silu_backward(a[0], a[1], a[2], a[4], a[5], 8, dropout, a[6], a[6], a[7], a[8]);
                     },
                     false});
  }
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const LowPrecisionCase& op) { return out << op.name; }

std::vector<LowPrecisionCase> low_precision_cases() {
  std::vector<LowPrecisionCase> cases;
  add_elementwise_cases(cases);
  add_resampling_cases(cases);
  add_group_norm_cases(cases);
  return cases;
}

std::vector<Tensor> make_case_arguments(const LowPrecisionCase& op, DType activation_type) {
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < op.args.size(); ++i) {
    const CaseArg& arg = op.args[i];
    tensors.push_back(make_argument(arg.activation ? typed(arg.arg, activation_type) : arg.arg, 2000 + i));
  }
  return tensors;
}

}  // namespace diffuse::testing
