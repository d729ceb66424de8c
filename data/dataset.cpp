// Opening, validating and reading dataset files.
#include "data/dataset.h"

#include <algorithm>

#include "io/file_context.h"
#include "io/pixels.h"

namespace diffuse {

namespace {

constexpr const char* kWhat = "dataset";  // names the file in errors

}  // namespace

std::string describe_dataset(const DatasetInfo& info) {
  std::string text = concat(info.count, " images ", info.height, "x", info.width, "x", info.channels);
  return info.has_labels ? concat(text, ", ", info.num_classes, " classes") : text + ", unlabelled";
}

DatasetReader::DatasetReader(const std::string& path) : path_(path), file_(Hdf5File::open(path, kWhat)) {
  with_file_context(kWhat, path_, [&] { validate_and_load(); });
}

void DatasetReader::validate_and_load() {
  DIFFUSE_CHECK(file_.exists(kImagesPath), "no ", kImagesPath, " dataset");
  const ElementType image_type = file_.element_type(kImagesPath);
  DIFFUSE_CHECK(image_type.kind == ElementType::Kind::Integer && image_type.bytes == 1 && !image_type.is_signed,
                kImagesPath, " must hold uint8 pixels");
  const Shape extents = file_.dataset_shape(kImagesPath);
  DIFFUSE_CHECK(extents.size() == 4, kImagesPath, " has rank ", extents.size(), ", expected 4 [N, H, W, C]");
  info_.count = extents[0];
  info_.height = extents[1];
  info_.width = extents[2];
  info_.channels = extents[3];
  DIFFUSE_CHECK(info_.count > 0, kImagesPath, " holds no images");
  DIFFUSE_CHECK(info_.height > 0 && info_.width > 0 && info_.channels > 0, kImagesPath, " has an empty image shape");

  if (file_.has_attribute(kSourceAttribute)) info_.source = file_.string_attribute(kSourceAttribute);
  if (file_.has_attribute(kNumClassesAttribute)) info_.num_classes = file_.int_attribute(kNumClassesAttribute);
  DIFFUSE_CHECK(info_.num_classes >= 0, "attribute ", kNumClassesAttribute, " is negative");

  info_.has_labels = file_.exists(kLabelsPath);
  if (!info_.has_labels) return;
  DIFFUSE_CHECK(info_.num_classes > 0, "has ", kLabelsPath, " but no positive root attribute ", kNumClassesAttribute);
  DIFFUSE_CHECK(file_.element_type(kLabelsPath).kind == ElementType::Kind::Integer, kLabelsPath, " must hold integers");
  const Shape label_extents = file_.dataset_shape(kLabelsPath);
  DIFFUSE_CHECK(label_extents.size() == 1, kLabelsPath, " has rank ", label_extents.size(), ", expected 1 [N]");
  DIFFUSE_CHECK(label_extents[0] == info_.count, kLabelsPath, " has ", label_extents[0], " entries but ", kImagesPath,
                " has ", info_.count);
  labels_.resize(info_.count);
  file_.read(kLabelsPath, labels_.data());
  for (int64_t i = 0; i < info_.count; ++i) {
    DIFFUSE_CHECK(labels_[i] >= 0 && labels_[i] < info_.num_classes, "label ", labels_[i], " of image ", i,
                  " is outside [0, ", info_.num_classes, ")");
  }
}

void DatasetReader::read_range(int64_t first, int64_t count, uint8_t* out) const {
  DIFFUSE_CHECK(first >= 0 && count >= 0 && first + count <= info_.count, "images [", first, ", ", first + count,
                ") are outside dataset ", path_, " of ", info_.count, " images");
  file_.read_rows(kImagesPath, {RowRange{first, count}}, out);
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

  // Read the distinct images in file order, one range per run of consecutive indices...
  std::vector<RowRange> runs;
  for (size_t begin = 0; begin < sorted.size();) {
    size_t end = begin + 1;
    while (end < sorted.size() && sorted[end] == sorted[end - 1] + 1) ++end;
    runs.push_back(RowRange{sorted[begin], static_cast<int64_t>(end - begin)});
    begin = end;
  }
  const size_t image_bytes = static_cast<size_t>(info_.image_bytes());
  std::vector<uint8_t> staging(sorted.size() * image_bytes);
  file_.read_rows(kImagesPath, runs, staging.data());
  // ...then place them in the order asked for.
  for (size_t i = 0; i < indices.size(); ++i) {
    const size_t position = std::lower_bound(sorted.begin(), sorted.end(), indices[i]) - sorted.begin();
    std::copy_n(staging.data() + position * image_bytes, image_bytes, out + i * image_bytes);
  }
}

}  // namespace diffuse
