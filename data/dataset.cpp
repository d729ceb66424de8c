// Opening, validating and reading dataset files.
#include "data/dataset.h"

#include <algorithm>

#include "io/pixels.h"

namespace diffuse {

namespace {

// The datatype class and size of a dataset's elements.
struct ElementType {
  H5T_class_t type_class;
  size_t size;
  H5T_sign_t sign;
};

ElementType element_type(hid_t dataset) {
  hid_t type_id;
  H5_CHECK(type_id = H5Dget_type(dataset));
  Hdf5Handle type(type_id, H5Tclose);
  ElementType element;
  H5_CHECK(element.type_class = H5Tget_class(type.get()));
  element.size = H5Tget_size(type.get());
  element.sign = element.type_class == H5T_INTEGER ? H5Tget_sign(type.get()) : H5T_SGN_NONE;
  return element;
}

// Reads images [first, first + count) of an open /images dataset; the caller holds the HDF5 mutex.
void read_run(hid_t images, hid_t file_space, const DatasetInfo& info, int64_t first, int64_t count, uint8_t* out) {
  const hsize_t start[4] = {static_cast<hsize_t>(first), 0, 0, 0};
  const hsize_t extent[4] = {static_cast<hsize_t>(count), static_cast<hsize_t>(info.height),
                             static_cast<hsize_t>(info.width), static_cast<hsize_t>(info.channels)};
  H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, extent, nullptr));
  hid_t memory_space_id;
  H5_CHECK(memory_space_id = H5Screate_simple(4, extent, nullptr));
  Hdf5Handle memory_space(memory_space_id, H5Sclose);
  H5_CHECK(H5Dread(images, H5T_NATIVE_UINT8, memory_space.get(), file_space, H5P_DEFAULT, out));
}

}  // namespace

std::string describe_dataset(const DatasetInfo& info) {
  std::string text = concat(info.count, " images ", info.height, "x", info.width, "x", info.channels);
  return info.has_labels ? concat(text, ", ", info.num_classes, " classes") : text + ", unlabelled";
}

DatasetReader::DatasetReader(const std::string& path) : path_(path) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  with_file_context("dataset", path_, [&] {
    try {
      file_ = open_hdf5_file(path_);
      validate_and_load();
    } catch (...) {
      images_.reset();  // close while holding the mutex
      file_.reset();
      throw;
    }
  });
}

DatasetReader::~DatasetReader() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  images_.reset();
  file_.reset();
}

void DatasetReader::validate_and_load() {
  DIFFUSE_CHECK(link_exists(file_.get(), kImagesPath), "no ", kImagesPath, " dataset");
  // No chunk cache: it would read a whole chunk (up to 64 images) to return one of them, and the
  // loader's reads are random. Without it HDF5 reads just the requested images of uncompressed chunks.
  hid_t access_id;
  H5_CHECK(access_id = H5Pcreate(H5P_DATASET_ACCESS));
  Hdf5Handle access(access_id, H5Pclose);
  H5_CHECK(H5Pset_chunk_cache(access.get(), 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT));
  images_ = open_dataset(file_.get(), kImagesPath, access.get());
  const ElementType image_type = element_type(images_.get());
  DIFFUSE_CHECK(image_type.type_class == H5T_INTEGER && image_type.size == 1 && image_type.sign == H5T_SGN_NONE,
                kImagesPath, " must hold uint8 pixels");
  const Shape extents = dataset_shape(images_.get());
  DIFFUSE_CHECK(extents.size() == 4, kImagesPath, " has rank ", extents.size(), ", expected 4 [N, H, W, C]");
  info_.count = extents[0];
  info_.height = extents[1];
  info_.width = extents[2];
  info_.channels = extents[3];
  DIFFUSE_CHECK(info_.count > 0, kImagesPath, " holds no images");
  DIFFUSE_CHECK(info_.height > 0 && info_.width > 0 && info_.channels > 0, kImagesPath, " has an empty image shape");

  if (has_attribute(file_.get(), kSourceAttribute))
    info_.source = read_string_attribute(file_.get(), kSourceAttribute);
  if (has_attribute(file_.get(), kNumClassesAttribute))
    info_.num_classes = read_int_attribute(file_.get(), kNumClassesAttribute);
  DIFFUSE_CHECK(info_.num_classes >= 0, "attribute ", kNumClassesAttribute, " is negative");

  info_.has_labels = link_exists(file_.get(), kLabelsPath);
  if (!info_.has_labels) return;
  DIFFUSE_CHECK(info_.num_classes > 0, "has ", kLabelsPath, " but no positive root attribute ", kNumClassesAttribute);
  const Hdf5Handle labels = open_dataset(file_.get(), kLabelsPath);
  DIFFUSE_CHECK(element_type(labels.get()).type_class == H5T_INTEGER, kLabelsPath, " must hold integers");
  const Shape label_extents = dataset_shape(labels.get());
  DIFFUSE_CHECK(label_extents.size() == 1, kLabelsPath, " has rank ", label_extents.size(), ", expected 1 [N]");
  DIFFUSE_CHECK(label_extents[0] == info_.count, kLabelsPath, " has ", label_extents[0], " entries but ", kImagesPath,
                " has ", info_.count);
  labels_.resize(info_.count);
  read_dataset(labels.get(), H5T_NATIVE_INT32, labels_.data());
  for (int64_t i = 0; i < info_.count; ++i) {
    DIFFUSE_CHECK(labels_[i] >= 0 && labels_[i] < info_.num_classes, "label ", labels_[i], " of image ", i,
                  " is outside [0, ", info_.num_classes, ")");
  }
}

void DatasetReader::read_range(int64_t first, int64_t count, uint8_t* out) const {
  DIFFUSE_CHECK(first >= 0 && count >= 0 && first + count <= info_.count, "images [", first, ", ", first + count,
                ") are outside dataset ", path_, " of ", info_.count, " images");
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  with_file_context("dataset", path_, [&] {
    hid_t space_id;
    H5_CHECK(space_id = H5Dget_space(images_.get()));
    Hdf5Handle file_space(space_id, H5Sclose);
    read_run(images_.get(), file_space.get(), info_, first, count, out);
  });
}

Tensor DatasetReader::read_scaled(int64_t first, int64_t count) const {
  std::vector<uint8_t> pixels(static_cast<size_t>(count * info_.image_bytes()));
  read_range(first, count, pixels.data());
  Tensor images = Tensor::empty({count, info_.height, info_.width, info_.channels});
  std::transform(pixels.begin(), pixels.end(), images.f32(), from_pixel);
  return images;
}

void DatasetReader::read_images(const std::vector<int64_t>& indices, uint8_t* out) const {
  for (int64_t index : indices) {
    DIFFUSE_CHECK(index >= 0 && index < info_.count, "image index ", index, " is outside dataset ", path_, " of ",
                  info_.count, " images");
  }
  if (indices.empty()) return;
  std::vector<int64_t> sorted = indices;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

  // Read the distinct images in file order, one hyperslab per run of consecutive indices...
  const size_t image_bytes = static_cast<size_t>(info_.image_bytes());
  std::vector<uint8_t> staging(sorted.size() * image_bytes);
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    with_file_context("dataset", path_, [&] {
      hid_t space_id;
      H5_CHECK(space_id = H5Dget_space(images_.get()));
      Hdf5Handle file_space(space_id, H5Sclose);
      for (size_t begin = 0; begin < sorted.size();) {
        size_t end = begin + 1;
        while (end < sorted.size() && sorted[end] == sorted[end - 1] + 1) ++end;
        read_run(images_.get(), file_space.get(), info_, sorted[begin], static_cast<int64_t>(end - begin),
                 staging.data() + begin * image_bytes);
        begin = end;
      }
    });
  }
  // ...then place them in the order asked for.
  for (size_t i = 0; i < indices.size(); ++i) {
    const size_t position = std::lower_bound(sorted.begin(), sorted.end(), indices[i]) - sorted.begin();
    std::copy_n(staging.data() + position * image_bytes, image_bytes, out + i * image_bytes);
  }
}

}  // namespace diffuse
