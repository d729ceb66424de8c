// Converters from public image formats to the dataset file of dataset.h.
// Each validates all of its inputs before writing anything, writes through
// DatasetWriter (temporary name, fsync, rename), and refuses to replace
// existing outputs unless asked. Errors name the offending file.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/dataset_writer.h"

namespace diffuse {

// What a converter wrote, for the CLI's summary line.
struct ConvertedFile {
  std::string path;
  DatasetInfo info;
};

// Where Debian's dataset-fashion-mnist package puts the four IDX files.
inline constexpr const char* kFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

struct IdxConversion {
  std::string images_path;  // IDX ubyte [N, H, W], gzipped or not
  std::string labels_path;  // IDX ubyte [N]; empty for an unlabelled dataset
  std::string output_path;
  int pad_to = 32;          // pad with zeros, centred, to pad_to x pad_to; 0 keeps the size
  int64_t num_classes = 0;  // 0: the largest label + 1
  std::string source;       // empty: names the input files
  Overwrite overwrite = Overwrite::Refuse;
};
ConvertedFile convert_idx(const IdxConversion& conversion);

// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `source_directory` ->
// train.h5 (60000) and test.h5 (10000) in `output_directory`, 32x32x1, 10 classes.
std::vector<ConvertedFile> convert_fashion_mnist(const std::string& source_directory,
                                                 const std::string& output_directory, Overwrite overwrite);

// CIFAR-10 binary version: data_batch_1..5.bin and test_batch.bin in
// `source_directory` -> train.h5 (50000) and test.h5 (10000), 32x32x3, 10 classes.
std::vector<ConvertedFile> convert_cifar10(const std::string& source_directory, const std::string& output_directory,
                                           Overwrite overwrite);

// One subfolder per class (sorted names give class ids 0, 1, ...), each with
// PNG or JPEG files. Images are centre-cropped to a square and resized to
// size x size; grayscale or RGB follows the first image, and the others are
// converted to match.
ConvertedFile convert_folder(const std::string& source_directory, int size, const std::string& output_path,
                             Overwrite overwrite);

}  // namespace diffuse
