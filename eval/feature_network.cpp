// Loading feature networks, checking image shapes against them, and running them in batches.
#include "eval/feature_network.h"

#include <algorithm>

#include "eval/classifier_network.h"
#include "eval/inception.h"
#include "io/file_context.h"

namespace diffuse::eval {

std::unique_ptr<FeatureNetwork> load_feature_network(const std::string& path) {
  const FeatureFile file = read_feature_file(path);
  return with_file_context("feature network", path, [&]() -> std::unique_ptr<FeatureNetwork> {
    if (file.info.kind == kInceptionKind) return std::make_unique<InceptionNetwork>(file);
    return std::make_unique<ClassifierNetwork>(file);
  });
}

void check_image_shape(const FeatureNetworkInfo& info, const std::string& network_path, int64_t height, int64_t width,
                       int64_t channels, const std::string& what) {
  if (info.image_size > 0) {
    DIFFUSE_CHECK(height == info.image_size && width == info.image_size && channels == info.image_channels,
                  "feature network ", network_path, " takes ", info.image_size, "x", info.image_size, "x",
                  info.image_channels, " images but ", what, " are ", height, "x", width, "x", channels,
                  ": train a classifier on images of this shape with `diffuse train-classifier`, or use the "
                  "Inception network (tools/convert_inception_weights.py)");
  } else {
    DIFFUSE_CHECK(channels == 1 || channels == 3, "feature network ", network_path,
                  " takes grayscale or RGB images but ", what, " have ", channels, " channels");
  }
}

Tensor extract_features(FeatureNetwork& network, const Tensor& images, int64_t batch, Tensor* predictions,
                        const ProgressCallback& progress) {
  DIFFUSE_CHECK(images.rank() == 4, "images must be [N,H,W,C], got ", images.describe());
  const FeatureNetworkInfo& info = network.info();
  const int64_t count = images.dim(0);
  const bool classify = predictions != nullptr && info.num_classes > 0;
  Tensor features = Tensor::empty({count, info.feature_dim});
  const Tensor logits = classify ? Tensor::empty({count, info.num_classes}) : Tensor();
  for (int64_t first = 0; first < count; first += batch) {
    const int64_t end = std::min(count, first + batch);
    network.compute(images.slice(first, end), features.slice(first, end),
                    classify ? logits.slice(first, end) : Tensor());
    if (progress) progress(end);
  }
  if (!classify) return features;
  *predictions = Tensor::empty({count}, DType::I32);
  for (int64_t i = 0; i < count; ++i) {
    const float* row = logits.f32() + i * info.num_classes;
    predictions->i32()[i] = static_cast<int32_t>(std::max_element(row, row + info.num_classes) - row);
  }
  return features;
}

}  // namespace diffuse::eval
