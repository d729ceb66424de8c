// ParameterStore: declaration, flat-buffer allocation, views and initialisation.
#include "model/parameters.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops.h"
#include "core/philox.h"

namespace diffuse::model {

void weight_fans(const Shape& shape, int64_t& fan_in, int64_t& fan_out) {
  DIFFUSE_CHECK(shape.size() == 2 || shape.size() == 4, "fan-in/fan-out need a [out,in] or [out,kh,kw,in] weight, got ",
                shape_string(shape));
  const int64_t receptive_field = shape.size() == 4 ? shape[1] * shape[2] : 1;
  fan_in = receptive_field * shape.back();
  fan_out = receptive_field * shape.front();
}

Parameter* ParameterStore::declare(const std::string& name, const Shape& shape, const ParameterInit& init,
                                   ComputeCopy compute_copy) {
  DIFFUSE_CHECK(!finalized(), "parameter '", name, "' declared after the parameter store was finalized");
  DIFFUSE_CHECK(!name.empty(), "parameter with an empty name");
  DIFFUSE_CHECK(!contains(name), "parameter '", name, "' is declared twice");
  for (int64_t extent : shape)
    DIFFUSE_CHECK(extent > 0, "parameter '", name, "' has an empty shape ", shape_string(shape));
  if (init.rule == InitRule::kFanAvgUniform) {
    int64_t fan_in = 0, fan_out = 0;
    weight_fans(shape, fan_in, fan_out);  // rejects shapes the rule cannot handle, at declaration
  }
  auto parameter = std::make_unique<Parameter>();
  parameter->name = name;
  parameter->shape = shape;
  parameter->init = init;
  parameter->index = count();
  parameter->offset = numel_;
  parameter->compute_copy = compute_copy;
  numel_ += shape_numel(shape);
  Parameter* handle = parameter.get();
  by_name_[name] = handle;
  parameters_.push_back(std::move(parameter));
  return handle;
}

void ParameterStore::set_compute_dtype(DType dtype) {
  DIFFUSE_CHECK(!finalized(), "the compute dtype of a parameter store is set before finalize()");
  DIFFUSE_CHECK(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16,
                "a parameter store computes in f32, bf16 or f16, not ", dtype_name(dtype));
  compute_dtype_ = dtype;
}

void ParameterStore::finalize(Device device) {
  DIFFUSE_CHECK(!finalized(), "the parameter store is already finalized");
  DIFFUSE_CHECK(numel_ > 0, "finalize() of a parameter store without parameters");
  device_ = device;
  params_ = Tensor::zeros({numel_}, DType::F32, device);
  grads_ = Tensor::zeros({numel_}, DType::F32, device);
  auto* params_base = static_cast<float*>(params_.raw());
  auto* grads_base = static_cast<float*>(grads_.raw());
  for (auto& parameter : parameters_) {
    parameter->value = Tensor::view(params_base + parameter->offset, parameter->shape, DType::F32, device);
    parameter->grad = Tensor::view(grads_base + parameter->offset, parameter->shape, DType::F32, device);
  }
  if (compute_dtype_ == DType::F32) return;
  // Each copy starts on a 16-byte boundary, as tensor-core kernels want their operands.
  const auto element = static_cast<int64_t>(dtype_size(compute_dtype_));
  const int64_t alignment = 16 / element;
  std::vector<int64_t> compute_offsets;
  int64_t compute_numel = 0;
  for (const auto& parameter : parameters_) {
    compute_offsets.push_back((compute_numel + alignment - 1) / alignment * alignment);
    if (parameter->compute_copy == ComputeCopy::kRounded)
      compute_numel = compute_offsets.back() + shape_numel(parameter->shape);
  }
  if (compute_numel == 0) return;
  compute_params_ = Tensor::zeros({compute_numel}, compute_dtype_, device);
  auto* compute_base = static_cast<char*>(compute_params_.raw());
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (parameters_[i]->compute_copy == ComputeCopy::kRounded)
      parameters_[i]->compute =
          Tensor::view(compute_base + compute_offsets[i] * element, parameters_[i]->shape, compute_dtype_, device);
}

void ParameterStore::update_compute_copy() {
  DIFFUSE_CHECK(finalized(), "update_compute_copy() before the parameter store is finalized");
  for (const auto& parameter : parameters_)
    if (parameter->compute.defined()) ops::cast(parameter->value, parameter->compute);
}

const Parameter& ParameterStore::get(const std::string& name) const {
  const auto found = by_name_.find(name);
  DIFFUSE_CHECK(found != by_name_.end(), "no parameter named '", name, "' (the model has ", count(), ")");
  return *found->second;
}

const Tensor& ParameterStore::checked_view(const Tensor& view, const std::string& name) const {
  DIFFUSE_CHECK(finalized(), "parameter '", name, "' has no storage before the store is finalized");
  return view;
}

void ParameterStore::zero_grads() {
  DIFFUSE_CHECK(finalized(), "zero_grads() before the parameter store is finalized");
  ops::fill_zero(grads_);
}

namespace {

void fill_initial_values(const Parameter& parameter, uint64_t seed, float* out) {
  const int64_t count = shape_numel(parameter.shape);
  const RandomStream stream{seed, kPurposeInit, 0, static_cast<uint32_t>(parameter.index)};
  switch (parameter.init.rule) {
    case InitRule::kZeros:
      std::fill(out, out + count, 0.0f);
      return;
    case InitRule::kOnes:
      std::fill(out, out + count, 1.0f);
      return;
    case InitRule::kNormal:
      for (int64_t i = 0; i < count; ++i)
        out[i] = parameter.init.scale * random_normal(stream, static_cast<uint64_t>(i));
      return;
    case InitRule::kFanAvgUniform: {
      int64_t fan_in = 0, fan_out = 0;
      weight_fans(parameter.shape, fan_in, fan_out);
      const double fan_avg = 0.5 * static_cast<double>(fan_in + fan_out);
      const auto limit = static_cast<float>(std::sqrt(3.0 * parameter.init.scale / fan_avg));
      for (int64_t i = 0; i < count; ++i)
        out[i] = limit * (2.0f * random_uniform(stream, static_cast<uint64_t>(i)) - 1.0f);
      return;
    }
  }
  DIFFUSE_CHECK(false, "parameter '", parameter.name, "' has an unknown init rule");
}

}  // namespace

void ParameterStore::initialize(uint64_t seed) {
  DIFFUSE_CHECK(finalized(), "initialize() before the parameter store is finalized");
  Tensor host = device_ == Device::CPU ? params_ : Tensor::empty({numel_}, DType::F32, Device::CPU);
  float* values = host.f32();
  for (const auto& parameter : parameters_) fill_initial_values(*parameter, seed, values + parameter->offset);
  if (device_ != Device::CPU) copy(host, params_);
  update_compute_copy();
}

}  // namespace diffuse::model
