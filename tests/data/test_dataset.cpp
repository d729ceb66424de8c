// Dataset files: writing and reading back, validation errors that name the
// file, and the temporary-name-and-rename discipline of the writer.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/dataset_writer.h"
#include "data_testing.h"
#include "io/checks_hdf5.h"

namespace diffuse {
namespace {

using testing::expect_error_mentions;
using testing::TempDir;

DatasetInfo small_info(int64_t count, bool labelled) {
  DatasetInfo info;
  info.count = count;
  info.height = 3;
  info.width = 5;
  info.channels = 2;
  info.num_classes = labelled ? 4 : 0;
  info.has_labels = labelled;
  info.source = "unit test";
  return info;
}

// Image i is filled with bytes i * 7 + position.
std::vector<uint8_t> patterned_images(const DatasetInfo& info) {
  std::vector<uint8_t> images(static_cast<size_t>(info.count * info.image_bytes()));
  for (size_t i = 0; i < images.size(); ++i) {
    images[i] = static_cast<uint8_t>((i / info.image_bytes()) * 7 + i % info.image_bytes());
  }
  return images;
}

void write_small(const std::string& path, const DatasetInfo& info) {
  const std::vector<uint8_t> images = patterned_images(info);
  std::vector<int32_t> labels(info.count);
  for (int64_t i = 0; i < info.count; ++i) labels[i] = static_cast<int32_t>(i % 4);
  DatasetWriter writer(path, info, Overwrite::Refuse);
  // In uneven pieces, to exercise appends at offsets.
  for (int64_t first = 0; first < info.count;) {
    const int64_t count = std::min<int64_t>(first % 3 + 1, info.count - first);
    writer.append(images.data() + first * info.image_bytes(), info.has_labels ? labels.data() + first : nullptr, count);
    first += count;
  }
  writer.commit();
}

TEST(DatasetFile, RoundTripsImagesLabelsAndAttributes) {
  TempDir directory;
  const std::string path = directory.file("small.h5");
  const DatasetInfo written = small_info(70, true);  // more than one 64-image chunk
  write_small(path, written);
  EXPECT_EQ(testing::list_directory(directory.path()), std::vector<std::string>{"small.h5"}) << "no .tmp left";

  DatasetReader reader(path);
  const DatasetInfo& info = reader.info();
  EXPECT_EQ(info.count, 70);
  EXPECT_EQ(info.height, 3);
  EXPECT_EQ(info.width, 5);
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.num_classes, 4);
  EXPECT_TRUE(info.has_labels);
  EXPECT_EQ(info.source, "unit test");
  ASSERT_EQ(reader.labels().size(), 70u);
  for (int64_t i = 0; i < 70; ++i) EXPECT_EQ(reader.labels()[i], i % 4);

  const std::vector<uint8_t> expected = patterned_images(written);
  std::vector<uint8_t> all(expected.size());
  reader.read_range(0, 70, all.data());
  EXPECT_EQ(all, expected);

  // Any order, with repeats and runs that cross a chunk boundary.
  const std::vector<int64_t> indices = {69, 3, 62, 63, 64, 65, 3, 0};
  std::vector<uint8_t> picked(indices.size() * info.image_bytes());
  reader.read_images(indices, picked.data());
  for (size_t k = 0; k < indices.size(); ++k) {
    EXPECT_TRUE(std::equal(picked.begin() + k * info.image_bytes(), picked.begin() + (k + 1) * info.image_bytes(),
                           expected.begin() + indices[k] * info.image_bytes()))
        << "position " << k << " (image " << indices[k] << ")";
  }
  EXPECT_THROW(reader.read_images({70}, picked.data()), Error);
  EXPECT_EQ(describe_dataset(info), "70 images 3x5x2, 4 classes");
}

TEST(DatasetFile, UnlabelledDatasetHasNoLabels) {
  TempDir directory;
  write_small(directory.file("plain.h5"), small_info(5, false));
  DatasetReader reader(directory.file("plain.h5"));
  EXPECT_FALSE(reader.info().has_labels);
  EXPECT_TRUE(reader.labels().empty());
  EXPECT_EQ(describe_dataset(reader.info()), "5 images 3x5x2, unlabelled");
}

TEST(DatasetFile, MissingFileErrorNamesIt) {
  TempDir directory;
  const std::string path = directory.file("absent.h5");
  expect_error_mentions([&] { DatasetReader reader(path); }, {path, "No such file"});
}

TEST(DatasetFile, TruncatedFileErrorNamesIt) {
  TempDir directory;
  write_small(directory.file("whole.h5"), small_info(70, true));
  std::vector<uint8_t> bytes = testing::read_bytes(directory.file("whole.h5"));
  for (size_t keep : {bytes.size() / 2, size_t{1000}, size_t{100}}) {
    const std::string path = directory.file("cut-" + std::to_string(keep) + ".h5");
    testing::write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep));
    expect_error_mentions([&] { DatasetReader reader(path); }, {path});
  }
}

TEST(DatasetFile, NonHdf5FileErrorNamesIt) {
  TempDir directory;
  const std::string path = directory.file("text.h5");
  testing::write_bytes(path, std::vector<uint8_t>(4096, 'x'));
  expect_error_mentions([&] { DatasetReader reader(path); }, {path, "not an HDF5 file"});
}

// Writes a file with raw HDF5 calls, to build the malformed ones the writer refuses to make.
class RawFile {
 public:
  explicit RawFile(const std::string& path) {
    silence_hdf5_errors();
    H5_CHECK(file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  }
  ~RawFile() { H5Fclose(file_); }
  void dataset(const char* name, hid_t type, const std::vector<hsize_t>& extents, const void* data = nullptr) {
    hid_t space, dataset;
    H5_CHECK(space = H5Screate_simple(static_cast<int>(extents.size()), extents.data(), nullptr));
    H5_CHECK(dataset = H5Dcreate2(file_, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (data != nullptr) H5_CHECK(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(dataset);
    H5Sclose(space);
  }
  void int_attribute(const char* name, int32_t value) {
    hid_t space, attribute;
    H5_CHECK(space = H5Screate(H5S_SCALAR));
    H5_CHECK(attribute = H5Acreate2(file_, name, H5T_NATIVE_INT32, space, H5P_DEFAULT, H5P_DEFAULT));
    H5_CHECK(H5Awrite(attribute, H5T_NATIVE_INT32, &value));
    H5Aclose(attribute);
    H5Sclose(space);
  }

 private:
  hid_t file_ = -1;
};

TEST(DatasetFile, ValidationErrorsNameFileAndProblem) {
  TempDir directory;
  int case_number = 0;
  auto check = [&](const std::function<void(RawFile&)>& build, const std::string& problem) {
    const std::string path = directory.file("bad-" + std::to_string(case_number++) + ".h5");
    {
      RawFile file(path);
      build(file);
    }
    expect_error_mentions([&] { DatasetReader reader(path); }, {path, problem});
  };
  const std::vector<int32_t> three_labels = {0, 1, 2}, bad_labels = {0, 1, 9};
  check([](RawFile&) {}, "no /images dataset");
  check([](RawFile& f) { f.dataset("images", H5T_NATIVE_FLOAT, {3, 4, 4, 1}); }, "must hold uint8 pixels");
  check([](RawFile& f) { f.dataset("images", H5T_NATIVE_UINT8, {3, 4, 4}); }, "has rank 3, expected 4");
  check(
      [&](RawFile& f) {
        f.dataset("images", H5T_NATIVE_UINT8, {2, 4, 4, 1});
        f.dataset("labels", H5T_NATIVE_INT32, {3}, three_labels.data());
        f.int_attribute("num_classes", 10);
      },
      "/labels has 3 entries but /images has 2");
  check(
      [&](RawFile& f) {
        f.dataset("images", H5T_NATIVE_UINT8, {3, 4, 4, 1});
        f.dataset("labels", H5T_NATIVE_INT32, {3}, bad_labels.data());
        f.int_attribute("num_classes", 5);
      },
      "label 9 of image 2 is outside [0, 5)");
  check(
      [&](RawFile& f) {
        f.dataset("images", H5T_NATIVE_UINT8, {3, 4, 4, 1});
        f.dataset("labels", H5T_NATIVE_INT32, {3}, three_labels.data());
      },
      "no positive root attribute num_classes");
  check(
      [&](RawFile& f) {
        f.dataset("images", H5T_NATIVE_UINT8, {3, 4, 4, 1});
        f.dataset("labels", H5T_NATIVE_FLOAT, {3});
        f.int_attribute("num_classes", 5);
      },
      "/labels must hold integers");
}

TEST(DatasetWriter, RefusesToOverwriteAndReplacesOnlyWhenAsked) {
  TempDir directory;
  const std::string path = directory.file("data.h5");
  write_small(path, small_info(5, true));
  const std::vector<uint8_t> before = testing::read_bytes(path);
  expect_error_mentions([&] { DatasetWriter writer(path, small_info(9, false), Overwrite::Refuse); },
                        {path, "already exists", "--overwrite"});
  EXPECT_EQ(testing::read_bytes(path), before);
  EXPECT_EQ(testing::list_directory(directory.path()), std::vector<std::string>{"data.h5"});

  {
    const DatasetInfo info = small_info(2, false);
    const std::vector<uint8_t> images = patterned_images(info);
    DatasetWriter writer(path, info, Overwrite::Replace);
    writer.append(images.data(), nullptr, 2);
    EXPECT_EQ(testing::read_bytes(path), before) << "the old file stays until commit";
    writer.commit();
  }
  EXPECT_EQ(DatasetReader(path).info().count, 2);
}

TEST(DatasetWriter, AbandonedOrIncompleteWritesLeaveNothing) {
  TempDir directory;
  const std::string path = directory.file("partial.h5");
  const DatasetInfo info = small_info(4, true);
  const std::vector<uint8_t> images = patterned_images(info);
  const std::vector<int32_t> labels = {0, 1, 2, 3};
  {
    DatasetWriter writer(path, info, Overwrite::Refuse);
    writer.append(images.data(), labels.data(), 2);
    EXPECT_TRUE(testing::file_exists(path + ".tmp"));
    expect_error_mentions([&] { writer.commit(); }, {path, "only 2 of 4 images"});
  }
  EXPECT_TRUE(testing::list_directory(directory.path()).empty());
  {
    DatasetWriter writer(path, info, Overwrite::Refuse);
    EXPECT_THROW(writer.append(images.data(), nullptr, 1), Error) << "labels are required";
    const std::vector<int32_t> out_of_range = {4};
    EXPECT_THROW(writer.append(images.data(), out_of_range.data(), 1), Error);
    EXPECT_THROW(writer.append(images.data(), labels.data(), 5), Error) << "more than declared";
  }
  EXPECT_TRUE(testing::list_directory(directory.path()).empty());
}

}  // namespace
}  // namespace diffuse
