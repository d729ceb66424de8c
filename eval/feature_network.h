// FeatureNetwork: what the evaluation metrics see of an image — a feature
// vector, and class logits when the network has a class head. Loaded from a
// feature network file (feature_file.h): the evaluation classifier or the FID
// Inception-v3.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/progress.h"
#include "core/tensor.h"
#include "eval/feature_file.h"

namespace diffuse::eval {

class FeatureNetwork {
 public:
  virtual ~FeatureNetwork() = default;
  virtual const FeatureNetworkInfo& info() const = 0;
  // images [N,H,W,C] in [-1, 1] -> features [N,feature_dim], and logits [N,num_classes] when
  // `logits` is defined (classifiers only). The shape must pass check_image_shape.
  virtual void compute(const Tensor& images, const Tensor& features, const Tensor& logits) = 0;
};

// Reads a feature network file and builds the network it describes.
std::unique_ptr<FeatureNetwork> load_feature_network(const std::string& path);

// Throws an Error naming `network_path` and `what` (e.g. "the samples", "reference set test.h5")
// unless HxWxC images can go through the network.
void check_image_shape(const FeatureNetworkInfo& info, const std::string& network_path, int64_t height, int64_t width,
                       int64_t channels, const std::string& what);

// Features [N,feature_dim] of images [N,H,W,C], `batch` images per pass; predicted classes
// (argmax of the logits) go to `predictions` [N] when it is non-null and the network classifies. `progress`
// hears the number of images done after each batch.
Tensor extract_features(FeatureNetwork& network, const Tensor& images, int64_t batch, Tensor* predictions = nullptr,
                        const ProgressCallback& progress = {});

}  // namespace diffuse::eval
