// ClassifierNetwork: rebuilding the classifier from its file and running it.
#include "eval/classifier_network.h"

#include "model/layer_support.h"

namespace diffuse::eval {

ClassifierSpec classifier_spec(const FeatureNetworkInfo& info) {
  DIFFUSE_CHECK(info.kind == kClassifierKind, "not a classifier file (kind '", info.kind, "')");
  ClassifierSpec spec;
  spec.image_size = static_cast<int>(info.image_size);
  spec.image_channels = static_cast<int>(info.image_channels);
  spec.num_classes = static_cast<int>(info.num_classes);
  spec.channels.assign(info.channels.begin(), info.channels.end());
  spec.feature_dim = static_cast<int>(info.feature_dim);
  spec.groups = static_cast<int>(info.groups);
  return spec;
}

FeatureNetworkInfo classifier_info(const ClassifierSpec& spec) {
  std::string widths;
  for (int width : spec.channels) widths += (widths.empty() ? "" : ",") + std::to_string(width);
  FeatureNetworkInfo info;
  info.kind = kClassifierKind;
  info.architecture = concat("CNN: 3x3 conv + GroupNorm(", spec.groups, ") + ReLU units, widths [", widths,
                             "] (stride 2 between stages, two units per stage after the stem), flatten, "
                             "Linear+ReLU features [",
                             spec.feature_dim, "], Linear head [", spec.num_classes, "]");
  info.image_size = spec.image_size;
  info.image_channels = spec.image_channels;
  info.feature_dim = spec.feature_dim;
  info.num_classes = spec.num_classes;
  info.channels.assign(spec.channels.begin(), spec.channels.end());
  info.groups = spec.groups;
  return info;
}

WeightMap parameter_weights(const model::ParameterStore& store) {
  WeightMap weights;
  for (int64_t i = 0; i < store.count(); ++i) {
    const model::Parameter& parameter = store.at(i);
    Tensor value = Tensor::empty(parameter.shape);
    copy(parameter.value, value);
    weights[parameter.name] = value;
  }
  return weights;
}

ClassifierNetwork::ClassifierNetwork(const FeatureFile& file) : info_(file.info) {
  classifier_ = std::make_unique<Classifier>(classifier_spec(info_), store_);
  store_.finalize(Device::CPU);
  DIFFUSE_CHECK(static_cast<int64_t>(file.weights.size()) == store_.count(), "the file holds ", file.weights.size(),
                " weight tensors but this classifier has ", store_.count());
  for (int64_t i = 0; i < store_.count(); ++i) {
    const model::Parameter& parameter = store_.at(i);
    const auto found = file.weights.find(parameter.name);
    DIFFUSE_CHECK(found != file.weights.end(), "weight '", parameter.name, "' is missing");
    DIFFUSE_CHECK(found->second.shape() == parameter.shape, "weight '", parameter.name, "' has shape ",
                  shape_string(found->second.shape()), " but the classifier needs ", shape_string(parameter.shape));
    copy(found->second, parameter.value);
  }
}

void ClassifierNetwork::compute(const Tensor& images, const Tensor& features, const Tensor& logits) {
  const model::NoBackward inference;
  const Tensor out = classifier_->forward(images);
  copy(classifier_->features(), features);
  if (logits.defined()) copy(out, logits);
}

}  // namespace diffuse::eval
