#include "eval/published_statistics.h"

#include <map>
#include <utility>
#include <vector>

#include "io/file_context.h"
#include "io/npz.h"

namespace diffuse::eval {

GaussianStatistics read_published_statistics(const std::string& path, int64_t feature_dim,
                                             const std::string& features_path) {
  std::map<std::string, NpyArray> arrays = read_npz_arrays(path, {"mu", "sigma"});
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
