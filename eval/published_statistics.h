// Published FID reference statistics for `diffuse eval --ref-stats`: an .npz
// with the mean 'mu' [d] and covariance 'sigma' [d,d] of a reference set's
// features, as pytorch-fid's `--save-stats` and ADM's evaluator batches store
// them. They give FID only: KID and precision/recall need the features
// themselves. The numbers are comparable only when the statistics were made
// in the same features (network and preprocessing; docs/evaluation.md).
#pragma once

#include <cstdint>
#include <string>

#include "eval/frechet_distance.h"

namespace diffuse::eval {

// The statistics of `path` (count 0: the file does not say). Throws an Error naming the file when it cannot be
// read, lacks 'mu' or 'sigma', or when their widths disagree with each other or with the `feature_dim`-d
// features of the network `features_path`.
GaussianStatistics read_published_statistics(const std::string& path, int64_t feature_dim,
                                             const std::string& features_path);

}  // namespace diffuse::eval
