// ParameterStore: every trainable tensor of a model in one flat fp32 buffer,
// its gradients in a second one of the same layout, and named views into both
// (and, for a model computing in bf16 or fp16, into its compute copy, below).
//
// Layers declare their parameters (stable dotted name, shape, init rule) in
// their constructors; finalize(device) then allocates the buffers and
// fills in each Parameter's `value` and `grad` views. Declaration order is
// buffer order, and layers declare in forward order, so the buffer read
// backwards is the order in which backward finishes gradients (what gradient
// bucketing overlaps with). Offsets are contiguous, without padding.
//
// Optimizer, EMA, all-reduce and checkpoints work on params()/grads() as
// flat vectors; names and offsets map them back to layers.
//
// A model that computes in bf16 or fp16 (model/unet.h) also has a third flat
// buffer in that type, the compute copy: the weights its matrix products read
// on bf16 or f16 activations (those declared ComputeCopy::kRounded), rounded
// from the fp32 masters once per step (update_compute_copy) rather than by every
// op that reads them, each starting on a 16-byte boundary (tensor-core kernels
// want aligned operands). Biases, norms and tables are read in f32 and have none.
//
// Gradient-ready hook: every layer's backward calls gradient_ready(p) for each
// of its parameters once it has finished accumulating p's gradient, so that a
// gradient reduction can start while backward goes on (distributed/gradient_reducer.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace diffuse::model {

// How initialize() fills a parameter (the DDPM TensorFlow code's rules).
enum class InitRule {
  // Uniform(-limit, limit), limit = sqrt(3 * scale / ((fan_in + fan_out) / 2)); conv [out,kh,kw,in] and
  // linear [out,in] weights ("variance scaling, fan_avg, uniform").
  kFanAvgUniform,
  kZeros,   // biases, group-norm beta
  kOnes,    // group-norm gamma
  kNormal,  // Normal(0, scale^2): embedding tables
};

struct ParameterInit {
  InitRule rule = InitRule::kZeros;
  float scale = 1.0f;  // variance scale (kFanAvgUniform) or standard deviation (kNormal)
};

// Whether a parameter gets a compute copy: the weights of products whose activations may be bf16 or f16 do.
enum class ComputeCopy { kNone, kRounded };

// Fan-in and fan-out of a weight: [out,kh,kw,in] -> (kh*kw*in, kh*kw*out); [out,in] -> (in, out).
void weight_fans(const Shape& shape, int64_t& fan_in, int64_t& fan_out);

struct Parameter {
  std::string name;    // stable dotted path, e.g. "down.0.block.1.conv1.weight"
  Shape shape;         // conv weights [out,kh,kw,in], linear weights [out,in]
  ParameterInit init;  // what initialize() writes
  int64_t index = 0;   // declaration order; also the Philox key of its initial values
  int64_t offset = 0;  // first element in the flat buffers
  ComputeCopy compute_copy = ComputeCopy::kNone;
  Tensor value;    // view into params(); defined after finalize()
  Tensor grad;     // view into grads(); defined after finalize()
  Tensor compute;  // view into compute_params(); defined after finalize() for kRounded parameters of a store
                   // with a compute copy
};

class ParameterStore {
 public:
  ParameterStore() = default;
  ParameterStore(const ParameterStore&) = delete;  // layers hold pointers to the Parameters
  ParameterStore& operator=(const ParameterStore&) = delete;

  // Adds a parameter at the end of the buffers. Names must be unique; only before finalize().
  // The pointer stays valid for the store's lifetime.
  Parameter* declare(const std::string& name, const Shape& shape, const ParameterInit& init,
                     ComputeCopy compute_copy = ComputeCopy::kNone);

  // The type of the compute copy: BF16 or F16 keep one, F32 (the default) none. Only before finalize().
  void set_compute_dtype(DType dtype);

  // Allocates the flat buffers on `device`, zeroes them and creates the views. Once.
  void finalize(Device device);
  bool finalized() const { return params_.defined(); }
  Device device() const { return device_; }

  int64_t count() const { return static_cast<int64_t>(parameters_.size()); }  // parameter tensors
  int64_t numel() const { return numel_; }  // scalars over all parameters (valid before finalize)

  // In declaration (= buffer) order.
  const Parameter& at(int64_t index) const { return *parameters_.at(static_cast<size_t>(index)); }
  bool contains(const std::string& name) const { return by_name_.count(name) != 0; }
  // Throws an Error naming the parameter when it does not exist.
  const Parameter& get(const std::string& name) const;
  const Tensor& value(const std::string& name) const { return checked_view(get(name).value, name); }
  const Tensor& grad(const std::string& name) const { return checked_view(get(name).grad, name); }

  // The flat buffers, f32 [numel()]; defined after finalize().
  const Tensor& params() const { return params_; }
  const Tensor& grads() const { return grads_; }
  // The compute copy in the compute dtype: the kRounded parameters and their alignment gaps; undefined when the
  // compute dtype is F32 or no parameter has one.
  const Tensor& compute_params() const { return compute_params_; }

  // Rounds every kRounded parameter into its compute copy (to nearest even, an ops::cast each); nothing without
  // one. initialize() calls it too. Whoever
  // changes the weights calls it before the next forward that reads the copy: the Trainer does at the start of every
  // step, after the last update, a load or a swap of weights.
  void update_compute_copy();

  // Called by a layer's backward when `parameter`'s gradient of this backward pass is final.
  void gradient_ready(const Parameter& parameter) const {
    if (gradient_ready_hook_) gradient_ready_hook_(parameter);
  }
  // What gradient_ready() calls; an empty function removes the hook.
  using GradientReadyHook = std::function<void(const Parameter&)>;
  void set_gradient_ready_hook(GradientReadyHook hook) { gradient_ready_hook_ = std::move(hook); }

  // Sets every gradient to exactly zero (also clearing inf/NaN left by an overflowed fp16 step).
  void zero_grads();

  // Writes every parameter from its init rule. Parameter i draws from the Philox
  // stream (seed, kPurposeInit, step 0, sample i), element j from element j of
  // it, so the values depend only on (seed, declaration order, shapes), not on
  // the machine or device. Computed on the host and copied to the device; the compute copy follows.
  void initialize(uint64_t seed);

 private:
  const Tensor& checked_view(const Tensor& view, const std::string& name) const;

  std::vector<std::unique_ptr<Parameter>> parameters_;
  std::map<std::string, Parameter*> by_name_;
  int64_t numel_ = 0;
  Device device_ = Device::CPU;
  Tensor params_;  // f32 [numel_]
  Tensor grads_;   // f32 [numel_]
  DType compute_dtype_ = DType::F32;
  Tensor compute_params_;  // compute_dtype_, or undefined
  GradientReadyHook gradient_ready_hook_;
};

}  // namespace diffuse::model
