// Classifier forward and backward, in order and in exact reverse order.
#include "eval/classifier.h"

#include "core/ops.h"

namespace diffuse::eval {

void validate(const ClassifierSpec& spec) {
  DIFFUSE_CHECK(spec.image_size > 0 && spec.image_channels > 0, "classifier: image size and channels must be positive");
  DIFFUSE_CHECK(spec.num_classes >= 2, "classifier: needs at least 2 classes, got ", spec.num_classes);
  DIFFUSE_CHECK(!spec.channels.empty(), "classifier: channels must list at least the stem width");
  DIFFUSE_CHECK(spec.feature_dim > 0, "classifier: feature_dim must be positive");
  for (int width : spec.channels)
    DIFFUSE_CHECK(width > 0 && spec.groups > 0 && width % spec.groups == 0, "classifier: channel width ", width,
                  " is not divisible into ", spec.groups, " groups");
  DIFFUSE_CHECK(spec.image_size >> (spec.channels.size() - 1) >= 1, "classifier: ", spec.channels.size() - 1,
                " stride-2 stages are too many for ", spec.image_size, "x", spec.image_size, " images");
}

ConvUnit Classifier::make_unit(model::ParameterStore& store, const std::string& name, int in, int out, int stride) {
  ConvUnit unit;
  unit.conv = std::make_unique<model::Conv2d>(store, name + ".conv", model::Conv2dSpec{in, out, 3, stride, 1.0f});
  unit.norm = std::make_unique<model::GroupNorm>(store, name + ".norm", model::GroupNormSpec{out, spec_.groups, 1e-5f});
  return unit;
}

Classifier::Classifier(const ClassifierSpec& spec, model::ParameterStore& store) : spec_(spec) {
  validate(spec);
  units_.push_back(make_unit(store, "stem", spec.image_channels, spec.channels[0], 1));
  for (size_t s = 1; s < spec.channels.size(); ++s) {
    const std::string name = "stage." + std::to_string(s);
    units_.push_back(make_unit(store, name + ".down", spec.channels[s - 1], spec.channels[s], 2));
    units_.push_back(make_unit(store, name + ".block", spec.channels[s], spec.channels[s], 1));
  }
  const int last_size = spec.image_size >> (spec.channels.size() - 1);
  const int flat = last_size * last_size * spec.channels.back();
  embed_ = std::make_unique<model::Linear>(store, "embed", model::LinearSpec{flat, spec.feature_dim});
  head_ = std::make_unique<model::Linear>(store, "head", model::LinearSpec{spec.feature_dim, spec.num_classes});
}

Tensor Classifier::unit_forward(ConvUnit& unit, const Tensor& x) {
  const Tensor normalized = unit.norm->forward(unit.conv->forward(x));
  const Tensor activated = model::new_f32(normalized.shape(), normalized.device());
  ops::relu_forward(normalized, activated);
  model::keep_for_backward(unit.activated, activated);  // backward's ReLU mask
  return activated;
}

Tensor Classifier::unit_backward(ConvUnit& unit, const Tensor& dy, model::InputGradient input_gradient) {
  const Tensor activated = model::take_kept(unit.activated, "classifier unit");
  const Tensor dactivated = model::new_f32(dy.shape(), dy.device());
  // ReLU(v) > 0 exactly where v > 0, so the activation serves as the mask.
  ops::relu_backward(activated, dy, dactivated);
  return unit.conv->backward(unit.norm->backward(dactivated), input_gradient);
}

Tensor Classifier::forward(const Tensor& images) {
  DIFFUSE_CHECK(images.rank() == 4 && images.dim(1) == spec_.image_size && images.dim(2) == spec_.image_size &&
                    images.dim(3) == spec_.image_channels,
                "classifier: expected images [N,", spec_.image_size, ",", spec_.image_size, ",", spec_.image_channels,
                "], got ", images.describe());
  Tensor h = images;
  for (ConvUnit& unit : units_) h = unit_forward(unit, h);
  const Tensor embedded = embed_->forward(h.reshape({images.dim(0), h.numel() / images.dim(0)}));
  model::ensure_buffer(features_, embedded.shape(), images.device());
  ops::relu_forward(embedded, features_);
  return head_->forward(features_);
}

void Classifier::backward(const Tensor& dlogits) {
  const Tensor dfeatures = head_->backward(dlogits);
  ops::relu_backward(features_, dfeatures, dfeatures);  // in place
  Tensor dh = embed_->backward(dfeatures).reshape(units_.back().activated.shape());
  for (size_t i = units_.size(); i-- > 0;)
    dh = unit_backward(units_[i], dh, i == 0 ? model::InputGradient::kSkip : model::InputGradient::kCompute);
}

}  // namespace diffuse::eval
