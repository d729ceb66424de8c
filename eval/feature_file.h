// Feature network files: the weights of the network whose activations the
// evaluation metrics compare, and what it expects. HDF5:
//   /params/<name>   fp32 weights (conv [out,kh,kw,in], linear [out,in], vectors)
//   root attributes: format_version, kind ("classifier" | "inception_v3_fid"),
//   architecture (one readable line), image_size (0 = any: the network resizes),
//   image_channels (0 = 1 or 3), feature_dim, num_classes (0 = no class head),
//   weights_sha256, and per kind: channels, groups, test_accuracy (classifier).
// weights_sha256 hashes, in name order, each name, a NUL byte and the values
// as little-endian fp32: the converter script computes the same digest.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace diffuse::eval {

inline constexpr const char* kClassifierKind = "classifier";
inline constexpr const char* kInceptionKind = "inception_v3_fid";
inline constexpr int64_t kFeatureFileFormatVersion = 1;

struct FeatureNetworkInfo {
  std::string kind;
  std::string architecture;
  int64_t image_size = 0;         // H = W of the images it takes; 0 = any size
  int64_t image_channels = 0;     // C of the images it takes; 0 = 1 or 3
  int64_t feature_dim = 0;        // D of its features
  int64_t num_classes = 0;        // classifier head size; 0 = none
  std::string weights_sha256;     // filled in by write_feature_file / read_feature_file
  std::vector<int64_t> channels;  // classifier: stage widths
  int64_t groups = 0;             // classifier: group-norm groups
  double test_accuracy = -1.0;    // classifier: accuracy on its test set when written; -1 = unknown
};

// Name -> host fp32 tensor, iterated in name order (the hash's order).
using WeightMap = std::map<std::string, Tensor>;

struct FeatureFile {
  FeatureNetworkInfo info;
  WeightMap weights;
};

std::string weights_sha256(const WeightMap& weights);
// The first 16 hex digits: what cache file names carry.
std::string short_hash(const std::string& sha256);

// Writes through a temporary name; info.weights_sha256 is computed here.
void write_feature_file(const std::string& path, FeatureNetworkInfo info, const WeightMap& weights);
// Reads and checks the format and that the weights still hash to weights_sha256.
FeatureFile read_feature_file(const std::string& path);

}  // namespace diffuse::eval
