// The dataset file (docs/architecture.md "File formats"): `/images` uint8 [N, H, W, C],
// chunked; `/labels` int32 [N], optional; root attributes `num_classes` and
// `source`. DatasetReader opens and validates one, then reads images by index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/hdf5.h"

namespace diffuse {

struct DatasetInfo {
  int64_t count = 0;  // N
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;     // 1 (grayscale) or 3 (RGB)
  int64_t num_classes = 0;  // 0 for unlabelled datasets
  bool has_labels = false;
  std::string source;  // where the images came from, for people reading the file

  int64_t image_bytes() const { return height * width * channels; }
};

// "60000 images 32x32x1, 10 classes": the one-line summary the CLI prints.
std::string describe_dataset(const DatasetInfo& info);

// Dataset paths inside the file and the root attribute names.
inline constexpr const char* kImagesPath = "/images";
inline constexpr const char* kLabelsPath = "/labels";
inline constexpr const char* kNumClassesAttribute = "num_classes";
inline constexpr const char* kSourceAttribute = "source";

// An open dataset file. Hdf5File takes the HDF5 mutex in every call, so one
// reader may be used from any thread (one at a time is what HDF5 allows
// anyway). Errors name the file and what is wrong with it.
class DatasetReader {
 public:
  // Opens and validates: /images present, uint8, rank 4; /labels (if present)
  // an integer vector of N entries, all in [0, num_classes).
  explicit DatasetReader(const std::string& path);
  DatasetReader(const DatasetReader&) = delete;
  DatasetReader& operator=(const DatasetReader&) = delete;

  const std::string& path() const { return path_; }
  const DatasetInfo& info() const { return info_; }
  // All N labels, read once when opening; empty for unlabelled datasets.
  const std::vector<int32_t>& labels() const { return labels_; }

  // Images `indices` (any order, repeats allowed) into `out`, which holds
  // indices.size() * image_bytes() bytes, in the order given. Reads each run
  // of consecutive indices with one hyperslab.
  void read_images(const std::vector<int64_t>& indices, uint8_t* out) const;
  // Images [first, first + count) into `out`.
  void read_range(int64_t first, int64_t count, uint8_t* out) const;
  // Images [first, first + count) as fp32 [count, H, W, C] in [-1, 1] (io/pixels.h).
  Tensor read_scaled(int64_t first, int64_t count) const;

 private:
  void validate_and_load();

  std::string path_;
  DatasetInfo info_;
  std::vector<int32_t> labels_;
  Hdf5File file_;
};

}  // namespace diffuse
