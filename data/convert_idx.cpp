// IDX (MNIST, Fashion-MNIST) to dataset files, padding 28x28 images to 32x32.
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/convert.h"
#include "data/idx_file.h"
#include "io/file_io.h"

namespace diffuse {

namespace {

// The images and labels of one IDX pair, validated and ready to write.
struct IdxDataset {
  DatasetInfo info;
  std::vector<uint8_t> images;  // [N, H, W, 1]
  std::vector<int32_t> labels;  // [N] or empty
};

// Centres each height x width image in a zero canvas of pad_to x pad_to.
std::vector<uint8_t> pad_images(const uint8_t* images, int64_t count, int64_t height, int64_t width, int64_t pad_to) {
  std::vector<uint8_t> padded(static_cast<size_t>(count * pad_to * pad_to), 0);
  const int64_t top = (pad_to - height) / 2, left = (pad_to - width) / 2;
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* row = images + (n * height + y) * width;
      std::copy_n(row, width, padded.data() + (n * pad_to + top + y) * pad_to + left);
    }
  }
  return padded;
}

IdxDataset load_idx(const IdxConversion& conversion) {
  const IdxArray images = read_idx(conversion.images_path, 3);
  const int64_t count = images.extents[0], height = images.extents[1], width = images.extents[2];
  IdxDataset dataset;
  dataset.info.count = count;
  dataset.info.channels = 1;
  if (conversion.pad_to > 0) {
    DIFFUSE_CHECK(height <= conversion.pad_to && width <= conversion.pad_to, "IDX file ", conversion.images_path,
                  " has ", height, "x", width, " images, larger than --pad-to ", conversion.pad_to);
    dataset.info.height = dataset.info.width = conversion.pad_to;
    dataset.images = pad_images(images.data(), count, height, width, conversion.pad_to);
  } else {
    dataset.info.height = height;
    dataset.info.width = width;
    dataset.images.assign(images.data(), images.data() + count * height * width);
  }

  dataset.info.source = conversion.source.empty() ? "IDX " + conversion.images_path : conversion.source;
  if (conversion.labels_path.empty()) return dataset;
  const IdxArray labels = read_idx(conversion.labels_path, 1);
  DIFFUSE_CHECK(labels.extents[0] == count, "IDX label file ", conversion.labels_path, " has ", labels.extents[0],
                " labels but ", conversion.images_path, " has ", count, " images");
  dataset.labels.assign(labels.data(), labels.data() + count);
  const int64_t largest = *std::max_element(dataset.labels.begin(), dataset.labels.end());
  dataset.info.has_labels = true;
  dataset.info.num_classes = conversion.num_classes > 0 ? conversion.num_classes : largest + 1;
  DIFFUSE_CHECK(largest < dataset.info.num_classes, "IDX label file ", conversion.labels_path, " has label ", largest,
                ", outside [0, ", dataset.info.num_classes, ")");
  if (conversion.source.empty()) dataset.info.source += ", labels " + conversion.labels_path;
  return dataset;
}

ConvertedFile write_idx_dataset(const IdxDataset& dataset, const std::string& path, Overwrite overwrite) {
  write_dataset_file(path, dataset.info, dataset.images.data(),
                     dataset.info.has_labels ? dataset.labels.data() : nullptr, overwrite);
  return ConvertedFile{path, dataset.info};
}

// "<directory>/<name>.gz" when present, else the uncompressed "<directory>/<name>".
std::string find_idx_file(const std::string& directory, const std::string& name) {
  const std::string compressed = directory + "/" + name + ".gz";
  const std::string plain = directory + "/" + name;
  if (std::filesystem::exists(compressed)) return compressed;
  DIFFUSE_CHECK(std::filesystem::exists(plain), "Fashion-MNIST file ", compressed, " (or ", name,
                ") not found; install the Debian package dataset-fashion-mnist or pass --src");
  return plain;
}

}  // namespace

ConvertedFile convert_idx(const IdxConversion& conversion) {
  check_can_write(conversion.output_path, conversion.overwrite);
  return write_idx_dataset(load_idx(conversion), conversion.output_path, conversion.overwrite);
}

std::vector<ConvertedFile> convert_fashion_mnist(const std::string& source_directory,
                                                 const std::string& output_directory, Overwrite overwrite) {
  struct Split {
    const char* prefix;
    const char* output_name;
  };
  const Split splits[] = {{"train", "train.h5"}, {"t10k", "test.h5"}};
  std::vector<IdxConversion> conversions;
  for (const Split& split : splits) {
    IdxConversion conversion;
    conversion.images_path = find_idx_file(source_directory, std::string(split.prefix) + "-images-idx3-ubyte");
    conversion.labels_path = find_idx_file(source_directory, std::string(split.prefix) + "-labels-idx1-ubyte");
    conversion.output_path = output_directory + "/" + split.output_name;
    conversion.pad_to = 32;
    conversion.num_classes = 10;
    conversion.source = concat("Fashion-MNIST ", split.prefix, " (", conversion.images_path, "), padded to 32x32");
    conversion.overwrite = overwrite;
    check_can_write(conversion.output_path, overwrite);
    conversions.push_back(conversion);
  }
  // Read and validate both splits before writing either.
  std::vector<IdxDataset> datasets;
  for (const IdxConversion& conversion : conversions) datasets.push_back(load_idx(conversion));
  create_output_directory(output_directory);
  std::vector<ConvertedFile> written;
  for (size_t i = 0; i < conversions.size(); ++i) {
    written.push_back(write_idx_dataset(datasets[i], conversions[i].output_path, overwrite));
  }
  return written;
}

}  // namespace diffuse
