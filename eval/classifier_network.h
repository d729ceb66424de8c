// The evaluation classifier as a FeatureNetwork: weights from its feature
// network file, features from its penultimate layer, logits from its head.
#pragma once

#include <memory>

#include "eval/classifier.h"
#include "eval/feature_network.h"

namespace diffuse::eval {

// The classifier spec recorded in a feature file of kind "classifier", and back
// (test_accuracy left unknown).
ClassifierSpec classifier_spec(const FeatureNetworkInfo& info);
FeatureNetworkInfo classifier_info(const ClassifierSpec& spec);

// Copies of the store's parameters by name: the weights a feature file holds.
WeightMap parameter_weights(const model::ParameterStore& store);

class ClassifierNetwork final : public FeatureNetwork {
 public:
  // Every parameter of the spec's classifier must be in `file` with the same shape.
  explicit ClassifierNetwork(const FeatureFile& file);

  const FeatureNetworkInfo& info() const override { return info_; }
  void compute(const Tensor& images, const Tensor& features, const Tensor& logits) override;

 private:
  FeatureNetworkInfo info_;
  model::ParameterStore store_;
  std::unique_ptr<Classifier> classifier_;
};

}  // namespace diffuse::eval
