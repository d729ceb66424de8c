#include "core/cpu/conv_dnnl.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "core/cpu/dnnl_support.h"
#include "core/cpu/gemm.h"

namespace diffuse::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// (batch, height, width, in, out, kernel_h, kernel_w, stride, pad_h, pad_w), (compute, activation, weight
// types, whether the forward adds y's contents).
using PlanKey = std::pair<std::array<int64_t, 10>, std::array<int, 4>>;

// An activation operand in our NHWC layout, as stored and in the compute type, with the reorder that rounds it.
struct Operand {
  memory::desc stored, compute;
  dnnl::reorder round;  // built only when the two types differ
};

// Everything oneDNN needs for one problem. Weights arrive as [Co,Kh,Kw,Ci]
// (oneDNN's "ohwi") and are reordered into whatever blocked layout and type
// each primitive prefers; activations stay NHWC, rounded to the compute type
// first when they are stored in another.
struct ConvPlan {
  Operand x, dy;
  memory::desc weight_stored;    // our layout and type
  memory::desc weight_gradient;  // our layout in fp32
  bool rounds_inputs = false;    // activations are stored in another type than the compute type

  dnnl::convolution_forward::primitive_desc forward_pd;
  bool forward_optimized = false;
  dnnl::convolution_forward forward;
  dnnl::reorder forward_weights;

  bool backward_built = false;
  bool backward_data_optimized = false, backward_weights_optimized = false;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_data::primitive_desc backward_data_pd;
  dnnl::reorder backward_data_weights;
  dnnl::convolution_backward_weights backward_weights;
  dnnl::convolution_backward_weights::primitive_desc backward_weights_pd;
  dnnl::reorder add_weight_gradient;  // the primitive's filter gradient summed onto ours
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory::dims strides_of(const ConvGeometry& g) { return {g.stride, g.stride}; }
memory::dims padding_left(const ConvGeometry& g) { return {g.pad_h, g.pad_w}; }
// The right/bottom padding that makes oneDNN's output size ours (a stride-2
// window may not reach the last padded column).
memory::dims padding_right(const ConvGeometry& g) {
  return {(g.out_height - 1) * g.stride + g.kernel_h - g.height - g.pad_h,
          (g.out_width - 1) * g.stride + g.kernel_w - g.width - g.pad_w};
}

std::unique_ptr<ConvPlan> make_plan(const ConvGeometry& g, const DnnlConvTypes& types, bool add_to_y) {
  auto plan = std::make_unique<ConvPlan>();
  const memory::data_type f32 = memory::data_type::f32, type = dnnl_type(types.compute);
  const memory::data_type stored = dnnl_type(types.activations);
  const memory::dims x_dims = {g.batch, g.in_channels, g.height, g.width};
  const memory::dims y_dims = {g.batch, g.out_channels, g.out_height, g.out_width};
  const memory::dims weight_dims = {g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  plan->weight_stored = memory::desc(weight_dims, dnnl_type(types.weights), Tag::ohwi);
  plan->weight_gradient = memory::desc(weight_dims, f32, Tag::ohwi);
  plan->rounds_inputs = types.compute != types.activations;
  dnnl::engine& engine = dnnl_engine();
  for (auto [operand, dims] : {std::pair{&plan->x, x_dims}, std::pair{&plan->dy, y_dims}}) {
    operand->stored = memory::desc(dims, stored, Tag::nhwc);
    operand->compute = memory::desc(dims, type, Tag::nhwc);
    if (plan->rounds_inputs)
      operand->round = dnnl::reorder(dnnl::reorder::primitive_desc(engine, operand->stored, engine, operand->compute));
  }
  const memory::desc any_weights(weight_dims, type, Tag::any);
  const memory::desc bias(memory::dims{g.out_channels}, f32, Tag::a);
  const dnnl::convolution_forward::desc forward(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                plan->x.compute, any_weights, bias, plan->dy.stored, strides_of(g),
                                                padding_left(g), padding_right(g));
  dnnl::primitive_attr attr = user_scratchpad();
  if (add_to_y) {
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    attr.set_post_ops(sum);
  }
  plan->forward_pd = dnnl::convolution_forward::primitive_desc(forward, attr, engine);
  plan->forward_optimized = is_optimized(plan->forward_pd.impl_info_str());
  if (plan->forward_optimized) {
    plan->forward = dnnl::convolution_forward(plan->forward_pd);
    plan->forward_weights = dnnl::reorder(
        dnnl::reorder::primitive_desc(engine, plan->weight_stored, engine, plan->forward_pd.weights_desc()));
  }
  return plan;
}

void build_backward(const ConvGeometry& g, DType compute, ConvPlan& plan) {
  dnnl::engine& engine = dnnl_engine();
  const memory::dims weight_dims = {g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  const memory::desc any_weights(weight_dims, dnnl_type(compute), Tag::any);
  // With bf16 data the filter gradient comes out in fp32 (oneDNN accumulates and writes it in fp32).
  const memory::desc any_weight_gradient(weight_dims, memory::data_type::f32, Tag::any);

  const dnnl::convolution_backward_data::desc data(dnnl::algorithm::convolution_direct, plan.x.stored, any_weights,
                                                   plan.dy.compute, strides_of(g), padding_left(g), padding_right(g));
  plan.backward_data_pd =
      dnnl::convolution_backward_data::primitive_desc(data, user_scratchpad(), engine, plan.forward_pd);
  plan.backward_data_optimized = is_optimized(plan.backward_data_pd.impl_info_str());
  if (plan.backward_data_optimized) {
    plan.backward_data = dnnl::convolution_backward_data(plan.backward_data_pd);
    plan.backward_data_weights = dnnl::reorder(
        dnnl::reorder::primitive_desc(engine, plan.weight_stored, engine, plan.backward_data_pd.weights_desc()));
  }

  const dnnl::convolution_backward_weights::desc weights(dnnl::algorithm::convolution_direct, plan.x.compute,
                                                         any_weight_gradient, plan.dy.compute, strides_of(g),
                                                         padding_left(g), padding_right(g));
  plan.backward_weights_pd =
      dnnl::convolution_backward_weights::primitive_desc(weights, user_scratchpad(), engine, plan.forward_pd);
  plan.backward_weights_optimized = is_optimized(plan.backward_weights_pd.impl_info_str());
  if (plan.backward_weights_optimized) {
    plan.backward_weights = dnnl::convolution_backward_weights(plan.backward_weights_pd);
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    dnnl::primitive_attr accumulate;
    accumulate.set_post_ops(sum);
    plan.add_weight_gradient = dnnl::reorder(dnnl::reorder::primitive_desc(
        engine, plan.backward_weights_pd.diff_weights_desc(), engine, plan.weight_gradient, accumulate));
  }
  plan.backward_built = true;
}

// oneDNN throws when it has no implementation at all for a problem (a data type this CPU cannot do); that is
// the same answer as "only reference loops": the im2col path takes over.
ConvPlan& plan_for(const ConvGeometry& g, const DnnlConvTypes& types, bool backward, bool add_to_y = false) {
  thread_local std::map<PlanKey, std::unique_ptr<ConvPlan>> plans;
  const PlanKey key{
      {g.batch, g.height, g.width, g.in_channels, g.out_channels, g.kernel_h, g.kernel_w, g.stride, g.pad_h, g.pad_w},
      {static_cast<int>(types.compute), static_cast<int>(types.activations), static_cast<int>(types.weights),
       add_to_y ? 1 : 0}};
  std::unique_ptr<ConvPlan>& plan = plans[key];
  if (!plan) {
    try {
      plan = make_plan(g, types, add_to_y);
    } catch (const dnnl::error&) {
      plan = std::make_unique<ConvPlan>();  // nothing optimized
    }
  }
  if (backward && !plan->backward_built && plan->forward_optimized) {
    try {
      build_backward(g, types.compute, *plan);
    } catch (const dnnl::error&) {
      plan->backward_data_optimized = plan->backward_weights_optimized = false;
      plan->backward_built = true;
    }
  }
  return *plan;
}

// Per-thread scratch for what one call holds at once, each grown on demand.
struct Scratch {
  ScratchBuffer weights, x, dy, workspace, weight_gradient, zero_bias;
};
thread_local Scratch scratch;

memory scratch_memory(const memory::desc& desc, ScratchBuffer& buffer) {
  return memory(desc, dnnl_engine(), buffer.get((desc.get_size() + sizeof(float) - 1) / sizeof(float)));
}

memory user_memory(const memory::desc& desc, const void* data) {
  return memory(desc, dnnl_engine(), const_cast<void*>(data));  // oneDNN takes void*; inputs are only read
}

// `data` (NHWC as stored) as the primitive's input: itself, or rounded into `buffer`.
memory compute_input(const ConvPlan& plan, const Operand& operand, const void* data, ScratchBuffer& buffer) {
  memory original = user_memory(operand.stored, data);
  if (!plan.rounds_inputs) return original;
  memory rounded = scratch_memory(operand.compute, buffer);
  operand.round.execute(dnnl_stream(), original, rounded);
  return rounded;
}

memory reordered_weights(const ConvPlan& plan, const dnnl::reorder& reorder, const memory::desc& wanted,
                         const void* weight) {
  memory original = user_memory(plan.weight_stored, weight);
  memory reordered = scratch_memory(wanted, scratch.weights);
  reorder.execute(dnnl_stream(), original, reordered);
  return reordered;
}

// Runs a primitive with its user scratchpad and waits for it.
template <typename PrimitiveDesc>
void run(const dnnl::primitive& primitive, const PrimitiveDesc& pd, std::unordered_map<int, memory> arguments) {
  arguments.emplace(DNNL_ARG_SCRATCHPAD, scratch_memory(pd.scratchpad_desc(), scratch.workspace));
  primitive.execute(dnnl_stream(), arguments);
  dnnl_stream().wait();
}

}  // namespace

bool dnnl_conv_forward(const ConvGeometry& g, const DnnlConvTypes& types, const void* x, const void* weight,
                       const float* bias, bool add_to_y, void* y) {
  ConvPlan& plan = plan_for(g, types, false, add_to_y);
  if (!plan.forward_optimized) return false;
  // The primitive was made with a bias; without one it adds zeros.
  if (bias == nullptr) {
    float* zeros = scratch.zero_bias.get(static_cast<size_t>(g.out_channels));
    std::fill(zeros, zeros + g.out_channels, 0.0f);
    bias = zeros;
  }
  run(plan.forward, plan.forward_pd,
      {{DNNL_ARG_SRC, compute_input(plan, plan.x, x, scratch.x)},
       {DNNL_ARG_WEIGHTS, reordered_weights(plan, plan.forward_weights, plan.forward_pd.weights_desc(), weight)},
       {DNNL_ARG_BIAS, user_memory(plan.forward_pd.bias_desc(), bias)},
       {DNNL_ARG_DST, user_memory(plan.dy.stored, y)}});
  return true;
}

DnnlBackward dnnl_conv_backward(const ConvGeometry& g, const DnnlConvTypes& types, const void* x, const void* dy,
                                const void* weight, void* dx, float* dweight) {
  ConvPlan& plan = plan_for(g, types, true);
  const bool data = dx != nullptr && plan.backward_data_optimized;
  const bool weights = dweight != nullptr && plan.backward_weights_optimized;
  if (!data && !weights) return {};
  const memory dy_memory = compute_input(plan, plan.dy, dy, scratch.dy);  // rounded once for both products
  if (weights) {
    memory gradient = scratch_memory(plan.backward_weights_pd.diff_weights_desc(), scratch.weight_gradient);
    run(plan.backward_weights, plan.backward_weights_pd,
        {{DNNL_ARG_SRC, compute_input(plan, plan.x, x, scratch.x)},
         {DNNL_ARG_DIFF_DST, dy_memory},
         {DNNL_ARG_DIFF_WEIGHTS, gradient}});
    memory accumulated = user_memory(plan.weight_gradient, dweight);
    plan.add_weight_gradient.execute(dnnl_stream(), gradient, accumulated);
    dnnl_stream().wait();
  }
  if (data) {
    run(plan.backward_data, plan.backward_data_pd,
        {{DNNL_ARG_DIFF_DST, dy_memory},
         {DNNL_ARG_WEIGHTS,
          reordered_weights(plan, plan.backward_data_weights, plan.backward_data_pd.weights_desc(), weight)},
         {DNNL_ARG_DIFF_SRC, user_memory(plan.x.stored, dx)}});
  }
  return {data, weights};
}

std::string conv_implementations(const ConvGeometry& g, const DnnlConvTypes& types) {
  const ConvPlan& plan = plan_for(g, types, true);
  // Without an optimized forward no backward is built either, so every part reads "im2col".
  const auto name = [](bool optimized, const auto& pd) {
    return std::string(optimized ? pd.impl_info_str() : "im2col");
  };
  return name(plan.forward_optimized, plan.forward_pd) + " / " +
         name(plan.backward_data_optimized, plan.backward_data_pd) + " / " +
         name(plan.backward_weights_optimized, plan.backward_weights_pd);
}

}  // namespace diffuse::cpu
