// Writing dataset files through a temporary name, fsync and rename.
#include "data/dataset_writer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "io/pixels.h"

namespace diffuse {

namespace {

// Chunks of up to 64 images and about 1 MiB, the size of HDF5's default chunk
// cache: large enough for sequential reads, small enough that reading one
// image at random does not drag in megabytes.
constexpr int64_t kMaxChunkImages = 64;
constexpr int64_t kChunkTargetBytes = 1 << 20;

// Writes rows [first, first + count) of a dataset whose trailing extents are `row_shape`.
void write_rows(hid_t dataset, hid_t memory_type, const std::vector<hsize_t>& row_shape, int64_t first, int64_t count,
                const void* data) {
  std::vector<hsize_t> start(row_shape.size() + 1, 0), extent(row_shape.size() + 1);
  start[0] = static_cast<hsize_t>(first);
  extent[0] = static_cast<hsize_t>(count);
  std::copy(row_shape.begin(), row_shape.end(), extent.begin() + 1);
  hid_t file_space_id, memory_space_id;
  H5_CHECK(file_space_id = H5Dget_space(dataset));
  Hdf5Handle file_space(file_space_id, H5Sclose);
  H5_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr));
  H5_CHECK(memory_space_id = H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr));
  Hdf5Handle memory_space(memory_space_id, H5Sclose);
  H5_CHECK(H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data));
}

}  // namespace

void check_can_write(const std::string& path, Overwrite overwrite) {
  DIFFUSE_CHECK(overwrite == Overwrite::Replace || !std::filesystem::exists(path), "output file ", path,
                " already exists; refusing to overwrite it (remove it, or pass --overwrite to replace it)");
}

DatasetWriter::DatasetWriter(const std::string& path, const DatasetInfo& info, Overwrite overwrite)
    : path_(path), temporary_path_(path + ".tmp"), info_(info), overwrite_(overwrite) {
  with_file_context("dataset", path_, [&] {
    DIFFUSE_CHECK(info_.count > 0, "a dataset needs at least one image");
    DIFFUSE_CHECK(info_.height > 0 && info_.width > 0 && info_.channels > 0, "empty image shape ", info_.height, "x",
                  info_.width, "x", info_.channels);
    DIFFUSE_CHECK(!info_.has_labels || info_.num_classes > 0, "labelled datasets need num_classes > 0");
    DIFFUSE_CHECK(info_.num_classes >= 0 && info_.num_classes <= INT32_MAX, "num_classes ", info_.num_classes,
                  " is out of range");
  });
  check_can_write(path_, overwrite_);
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  with_file_context("dataset", temporary_path_, [&] {
    try {
      file_ = create_hdf5_file(temporary_path_);

      const hsize_t image_extents[4] = {static_cast<hsize_t>(info_.count), static_cast<hsize_t>(info_.height),
                                        static_cast<hsize_t>(info_.width), static_cast<hsize_t>(info_.channels)};
      const int64_t chunk_images =
          std::clamp<int64_t>(kChunkTargetBytes / info_.image_bytes(), 1, std::min(kMaxChunkImages, info_.count));
      const hsize_t chunk[4] = {static_cast<hsize_t>(chunk_images), image_extents[1], image_extents[2],
                                image_extents[3]};
      hid_t space_id, properties_id, images_id;
      H5_CHECK(space_id = H5Screate_simple(4, image_extents, nullptr));
      Hdf5Handle space(space_id, H5Sclose);
      H5_CHECK(properties_id = H5Pcreate(H5P_DATASET_CREATE));
      Hdf5Handle properties(properties_id, H5Pclose);
      H5_CHECK(H5Pset_chunk(properties.get(), 4, chunk));
      H5_CHECK(H5Pset_fill_time(properties.get(), H5D_FILL_TIME_NEVER));  // every image gets written
      H5_CHECK(images_id = H5Dcreate2(file_.get(), kImagesPath, H5T_STD_U8LE, space.get(), H5P_DEFAULT,
                                      properties.get(), H5P_DEFAULT));
      images_ = Hdf5Handle(images_id, H5Dclose);

      if (info_.has_labels) {
        const hsize_t label_extent = static_cast<hsize_t>(info_.count);
        hid_t label_space_id, labels_id;
        H5_CHECK(label_space_id = H5Screate_simple(1, &label_extent, nullptr));
        Hdf5Handle label_space(label_space_id, H5Sclose);
        H5_CHECK(labels_id = H5Dcreate2(file_.get(), kLabelsPath, H5T_STD_I32LE, label_space.get(), H5P_DEFAULT,
                                        H5P_DEFAULT, H5P_DEFAULT));
        labels_ = Hdf5Handle(labels_id, H5Dclose);
      }
      write_attribute(file_.get(), kNumClassesAttribute, static_cast<int32_t>(info_.num_classes));
      write_attribute(file_.get(), kSourceAttribute, info_.source);
    } catch (...) {
      discard();
      throw;
    }
  });
}

DatasetWriter::~DatasetWriter() {
  if (committed_) return;
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  discard();
}

void DatasetWriter::append(const uint8_t* images, const int32_t* labels, int64_t count) {
  with_file_context("dataset", temporary_path_, [&] {
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
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  with_file_context("dataset", temporary_path_, [&] {
    const std::vector<hsize_t> image_shape = {static_cast<hsize_t>(info_.height), static_cast<hsize_t>(info_.width),
                                              static_cast<hsize_t>(info_.channels)};
    write_rows(images_.get(), H5T_NATIVE_UINT8, image_shape, written_, count, images);
    if (labels != nullptr) write_rows(labels_.get(), H5T_NATIVE_INT32, {}, written_, count, labels);
  });
  written_ += count;
}

void DatasetWriter::commit() {
  with_file_context("dataset", path_, [&] {
    DIFFUSE_CHECK(!committed_, "commit called twice");
    DIFFUSE_CHECK(written_ == info_.count, "only ", written_, " of ", info_.count, " images were written");
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    images_.reset();
    labels_.reset();
    H5_CHECK(file_.close());
  });
  // Checked again just before the rename, in case the file appeared while we were writing.
  check_can_write(path_, overwrite_);
  publish_file(temporary_path_, path_);
  committed_ = true;
}

// Closes everything and deletes the temporary file; the caller holds the HDF5 mutex.
void DatasetWriter::discard() {
  images_.reset();
  labels_.reset();
  file_.reset();
  std::remove(temporary_path_.c_str());
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
