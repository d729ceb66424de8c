// Features of a reference dataset (the real images), cached next to it as
// "<dataset>.<network hash>.stats.h5": the features themselves (KID and
// precision/recall need them) and their mean and covariance (FID). A cache is
// used only when it was made by bit-identical network weights from a dataset
// of the same size and modification time; otherwise it is recomputed and
// replaced. Every rank featurizes its share; rank 0 prints the progress and
// writes the cache.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "distributed/communicator.h"
#include "eval/feature_network.h"
#include "eval/frechet_distance.h"

namespace diffuse::eval {

struct ReferenceFeatures {
  Tensor features;  // [N,d] in dataset order
  GaussianStatistics statistics;
  std::string cache_path;
  bool from_cache = false;
};

// "<dataset>.<first 16 hex digits of the weights' SHA-256>.stats.h5"
std::string reference_cache_path(const std::string& dataset_path, const FeatureNetworkInfo& info);

// `network_path` names the network in errors. `batch` images go through the network at once.
ReferenceFeatures reference_features(FeatureNetwork& network, const std::string& network_path,
                                     const std::string& dataset_path, Communicator& communicator, int64_t batch);

}  // namespace diffuse::eval
