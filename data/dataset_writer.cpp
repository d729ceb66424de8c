// Writing dataset files, published atomically.
#include "data/dataset_writer.h"

#include <algorithm>
#include <filesystem>

#include "io/file_context.h"
#include "io/pixels.h"

namespace diffuse {

namespace {

// Chunks of up to 64 images and about 1 MiB, the size of HDF5's default chunk
// cache: large enough for sequential reads, small enough that reading one
// image at random does not drag in megabytes.
constexpr int64_t kMaxChunkImages = 64;
constexpr int64_t kChunkTargetBytes = 1 << 20;
constexpr const char* kWhat = "dataset";  // names the file in errors

// Checks `info` before anything is created: what the constructor's member initializers need.
const DatasetInfo& checked(const std::string& path, const DatasetInfo& info, Overwrite overwrite) {
  with_file_context(kWhat, path, [&] {
    DIFFUSE_CHECK(info.count > 0, "a dataset needs at least one image");
    DIFFUSE_CHECK(info.height > 0 && info.width > 0 && info.channels > 0, "empty image shape ", info.height, "x",
                  info.width, "x", info.channels);
    DIFFUSE_CHECK(!info.has_labels || info.num_classes > 0, "labelled datasets need num_classes > 0");
    DIFFUSE_CHECK(info.num_classes >= 0 && info.num_classes <= INT32_MAX, "num_classes ", info.num_classes,
                  " is out of range");
  });
  check_can_write(path, overwrite);
  return info;
}

}  // namespace

void check_can_write(const std::string& path, Overwrite overwrite) {
  DIFFUSE_CHECK(overwrite == Overwrite::Replace || !std::filesystem::exists(path), "output file ", path,
                " already exists; refusing to overwrite it (remove it, or pass --overwrite to replace it)");
}

DatasetWriter::DatasetWriter(const std::string& path, const DatasetInfo& info, Overwrite overwrite)
    : path_(path), info_(checked(path, info, overwrite)), overwrite_(overwrite), file_(Hdf5File::create(path, kWhat)) {
  const int64_t chunk_images =
      std::clamp<int64_t>(kChunkTargetBytes / info_.image_bytes(), 1, std::min(kMaxChunkImages, info_.count));
  file_.create_rows<uint8_t>(kImagesPath, {info_.count, info_.height, info_.width, info_.channels}, chunk_images);
  if (info_.has_labels) file_.create_rows<int32_t>(kLabelsPath, {info_.count});
  file_.set_attribute(kNumClassesAttribute, static_cast<int32_t>(info_.num_classes));
  file_.set_attribute(kSourceAttribute, info_.source);
}

void DatasetWriter::append(const uint8_t* images, const int32_t* labels, int64_t count) {
  with_file_context(kWhat, path_, [&] {
    DIFFUSE_CHECK(!committed_, "append after commit");
    DIFFUSE_CHECK(count >= 0 && written_ + count <= info_.count, "appending ", count, " images after ", written_,
                  " would exceed the declared ", info_.count);
    DIFFUSE_CHECK((labels != nullptr) == info_.has_labels, info_.has_labels ? "labels missing for a labelled dataset"
                                                                            : "labels given for an unlabelled dataset");
    for (int64_t i = 0; labels != nullptr && i < count; ++i) {
      DIFFUSE_CHECK(labels[i] >= 0 && labels[i] < info_.num_classes, "label ", labels[i], " of image ", written_ + i,
                    " is outside [0, ", info_.num_classes, ")");
    }
  });
  file_.write_rows(kImagesPath, RowRange{written_, count}, images);
  if (labels != nullptr) file_.write_rows(kLabelsPath, RowRange{written_, count}, labels);
  written_ += count;
}

void DatasetWriter::commit() {
  with_file_context(kWhat, path_, [&] {
    DIFFUSE_CHECK(!committed_, "commit called twice");
    DIFFUSE_CHECK(written_ == info_.count, "only ", written_, " of ", info_.count, " images were written");
  });
  // Checked again just before publishing, in case the file appeared while we were writing.
  check_can_write(path_, overwrite_);
  file_.commit();
  committed_ = true;
}

void write_dataset_file(const std::string& path, const DatasetInfo& info, const uint8_t* images, const int32_t* labels,
                        Overwrite overwrite) {
  DatasetWriter writer(path, info, overwrite);
  writer.append(images, labels, info.count);
  writer.commit();
}

void write_image_dataset(const std::string& path, const Tensor& images, const Tensor& labels, int64_t num_classes,
                         const std::string& source, Overwrite overwrite) {
  DatasetInfo info;
  info.count = images.dim(0);
  info.height = images.dim(1);
  info.width = images.dim(2);
  info.channels = images.dim(3);
  info.has_labels = labels.defined();
  info.num_classes = labels.defined() ? num_classes : 0;
  info.source = source;
  const std::vector<float> values = to_vector(images);
  std::vector<uint8_t> pixels(values.size());
  std::transform(values.begin(), values.end(), pixels.begin(), to_pixel);
  write_dataset_file(path, info, pixels.data(), labels.defined() ? labels.i32() : nullptr, overwrite);
}

}  // namespace diffuse
