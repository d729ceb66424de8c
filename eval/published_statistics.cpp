#include "eval/published_statistics.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "io/file_context.h"
#include "io/npz.h"

namespace diffuse::eval {

GaussianStatistics read_published_statistics(const std::string& path, int64_t feature_dim,
                                             const std::string& features_path) {
  // A mean of feature_dim values and a feature_dim^2 covariance; larger entries cannot be statistics of these features.
  const uint64_t dim = static_cast<uint64_t>(std::max<int64_t>(feature_dim, 0));
  uint64_t covariance_elements = 0;
  if (__builtin_mul_overflow(dim, dim, &covariance_elements)) covariance_elements = UINT64_MAX;
  std::map<std::string, NpyArray> arrays =
      read_npz_arrays(path, {{"mu", npy_max_bytes(dim)}, {"sigma", npy_max_bytes(covariance_elements)}});
  return with_file_context("npz", path, [&] {
    NpyArray& mu = arrays["mu"];
    NpyArray& sigma = arrays["sigma"];
    DIFFUSE_CHECK(mu.shape.size() == 1, "'mu' has shape ", shape_string(mu.shape), "; a mean is one vector [d]");
    const int64_t width = mu.shape[0];
    DIFFUSE_CHECK(sigma.shape == (Shape{width, width}), "'mu' is ", width, "-d but 'sigma' has shape ",
                  shape_string(sigma.shape), "; it must be [", width, ",", width, "]");
    DIFFUSE_CHECK(width == feature_dim, "the statistics are ", width, "-d but the feature network ", features_path,
                  " gives ", feature_dim,
                  "-d features: statistics are comparable only in the features they were made in");
    GaussianStatistics statistics;
    statistics.dim = width;
    statistics.mean = std::move(mu.values);
    statistics.covariance = std::move(sigma.values);
    return statistics;
  });
}

}  // namespace diffuse::eval
