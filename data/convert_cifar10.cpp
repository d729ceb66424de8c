// CIFAR-10 binary batches to dataset files. Each record is one label byte and
// a 32x32 RGB image stored as three planes (R, G, B); we store pixels
// interleaved (HWC), the layout of the rest of diffuse.
#include "core/error.h"
#include "data/convert.h"
#include "io/file_io.h"

namespace diffuse {

namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kPlane = kSide * kSide;
constexpr int64_t kRecordBytes = 1 + 3 * kPlane;
constexpr int kClasses = 10;

struct CifarSplit {
  DatasetInfo info;
  std::vector<uint8_t> images;  // [N, 32, 32, 3]
  std::vector<int32_t> labels;  // [N]
};

// Appends the records of one batch file to `split`, validating size and labels.
void load_batch(const std::string& path, CifarSplit& split) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  DIFFUSE_CHECK(!bytes.empty() && bytes.size() % kRecordBytes == 0, "CIFAR-10 batch ", path, " has ", bytes.size(),
                " bytes, not a positive multiple of the ", kRecordBytes,
                "-byte record (1 label + 3072 pixels); is it truncated, or the python version?");
  const int64_t records = static_cast<int64_t>(bytes.size()) / kRecordBytes;
  const size_t first = split.labels.size();
  split.labels.resize(first + records);
  split.images.resize((first + records) * 3 * kPlane);
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* record = bytes.data() + r * kRecordBytes;
    DIFFUSE_CHECK(record[0] < kClasses, "CIFAR-10 batch ", path, ": record ", r, " has label ", int{record[0]},
                  ", outside [0, 10)");
    split.labels[first + r] = record[0];
    uint8_t* image = split.images.data() + (first + r) * 3 * kPlane;
    for (int64_t pixel = 0; pixel < kPlane; ++pixel) {
      for (int64_t channel = 0; channel < 3; ++channel)
        image[pixel * 3 + channel] = record[1 + channel * kPlane + pixel];
    }
  }
}

}  // namespace

std::vector<ConvertedFile> convert_cifar10(const std::string& source_directory, const std::string& output_directory,
                                           Overwrite overwrite) {
  struct SplitFiles {
    const char* output_name;
    std::vector<std::string> batches;
  };
  const std::vector<SplitFiles> files = {
      {"train.h5",
       {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}},
      {"test.h5", {"test_batch.bin"}}};
  for (const SplitFiles& split : files) check_can_write(output_directory + "/" + split.output_name, overwrite);

  // Read and validate every batch before writing anything.
  std::vector<CifarSplit> splits(files.size());
  for (size_t s = 0; s < files.size(); ++s) {
    for (const std::string& batch : files[s].batches) load_batch(source_directory + "/" + batch, splits[s]);
    DatasetInfo& info = splits[s].info;
    info.count = static_cast<int64_t>(splits[s].labels.size());
    info.height = info.width = kSide;
    info.channels = 3;
    info.num_classes = kClasses;
    info.has_labels = true;
    info.source = concat("CIFAR-10 binary ", source_directory, " (", files[s].batches.front(),
                         files[s].batches.size() > 1 ? " ..." : "", ")");
  }
  create_output_directory(output_directory);
  std::vector<ConvertedFile> written;
  for (size_t s = 0; s < files.size(); ++s) {
    const std::string path = output_directory + "/" + files[s].output_name;
    write_dataset_file(path, splits[s].info, splits[s].images.data(), splits[s].labels.data(), overwrite);
    written.push_back(ConvertedFile{path, splits[s].info});
  }
  return written;
}

}  // namespace diffuse
