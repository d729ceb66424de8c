// Hdf5File: datasets, attributes and the temporary-name-then-rename write.
#include "io/hdf5_file.h"

#include <filesystem>

namespace diffuse::eval {

namespace {

template <typename T>
std::vector<T> read_values(hid_t file, const std::string& name, hid_t memory_type) {
  const Hdf5Handle dataset = open_dataset(file, name);
  std::vector<T> values(static_cast<size_t>(shape_numel(dataset_shape(dataset.get()))));
  if (!values.empty()) read_dataset(dataset.get(), memory_type, values.data());
  return values;
}

}  // namespace

template <typename Body>
auto Hdf5File::locked(Body&& body) const -> decltype(body()) {
  return with_file_context("file", path_, [&] {
    const std::lock_guard<std::mutex> lock(hdf5_mutex());
    return body();
  });
}

Hdf5File::Hdf5File(const std::string& path, const std::string& open_path, Hdf5Handle file, bool writing)
    : path_(path), open_path_(open_path), file_(std::move(file)), writing_(writing) {}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept
    : path_(std::move(other.path_)),
      open_path_(std::move(other.open_path_)),
      file_(std::move(other.file_)),
      writing_(other.writing_),
      committed_(other.committed_) {
  other.writing_ = false;
}

Hdf5File::~Hdf5File() {
  const std::lock_guard<std::mutex> lock(hdf5_mutex());
  file_.reset();
  if (writing_ && !committed_) {
    std::error_code ignored;
    std::filesystem::remove(open_path_, ignored);
  }
}

Hdf5File Hdf5File::open(const std::string& path) {
  return with_file_context("file", path, [&] {
    const std::lock_guard<std::mutex> lock(hdf5_mutex());
    return Hdf5File(path, path, open_hdf5_file(path), false);
  });
}

Hdf5File Hdf5File::create(const std::string& path) {
  const std::string temporary = path + ".tmp";
  return with_file_context("file", path, [&] {
    const std::lock_guard<std::mutex> lock(hdf5_mutex());
    return Hdf5File(path, temporary, create_hdf5_file(temporary), true);
  });
}

void Hdf5File::write_floats(const std::string& name, const Shape& shape, const float* values) {
  locked([&] { write_dataset(file_.get(), name, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values); });
}

void Hdf5File::write_doubles(const std::string& name, const Shape& shape, const double* values) {
  locked([&] { write_dataset(file_.get(), name, shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values); });
}

bool Hdf5File::has_dataset(const std::string& name) const {
  return locked([&] { return link_exists(file_.get(), name); });
}

Shape Hdf5File::dataset_shape(const std::string& name) const {
  return locked([&] { return diffuse::dataset_shape(open_dataset(file_.get(), name).get()); });
}

std::vector<float> Hdf5File::read_floats(const std::string& name) const {
  return locked([&] { return read_values<float>(file_.get(), name, H5T_NATIVE_FLOAT); });
}

std::vector<double> Hdf5File::read_doubles(const std::string& name) const {
  return locked([&] { return read_values<double>(file_.get(), name, H5T_NATIVE_DOUBLE); });
}

std::vector<std::string> Hdf5File::dataset_names(const std::string& group) const {
  return locked([&] { return link_names(file_.get(), group); });
}

void Hdf5File::set_attribute(const std::string& name, const std::string& value) {
  locked([&] { write_attribute(file_.get(), name, value); });
}

void Hdf5File::set_attribute(const std::string& name, int64_t value) {
  locked([&] { write_attribute(file_.get(), name, value); });
}

void Hdf5File::set_attribute(const std::string& name, double value) {
  locked([&] { write_attribute(file_.get(), name, value); });
}

void Hdf5File::set_attribute(const std::string& name, const std::vector<int64_t>& values) {
  locked([&] { write_attribute(file_.get(), name, values); });
}

bool Hdf5File::has_attribute(const std::string& name) const {
  return locked([&] { return diffuse::has_attribute(file_.get(), name); });
}

std::string Hdf5File::string_attribute(const std::string& name) const {
  return locked([&] { return read_string_attribute(file_.get(), name); });
}

int64_t Hdf5File::int_attribute(const std::string& name) const {
  return locked([&] { return read_int_attribute(file_.get(), name); });
}

double Hdf5File::double_attribute(const std::string& name) const {
  return locked([&] { return read_double_attribute(file_.get(), name); });
}

std::vector<int64_t> Hdf5File::int_list_attribute(const std::string& name) const {
  return locked([&] { return read_int_list_attribute(file_.get(), name); });
}

void Hdf5File::commit() {
  locked([&] {
    DIFFUSE_CHECK(writing_ && !committed_, "commit() of a file that is not being written");
    DIFFUSE_CHECK(file_.close() >= 0, "closing the file failed");
  });
  with_file_context("file", path_, [&] { publish_file(open_path_, path_); });
  committed_ = true;
}

}  // namespace diffuse::eval
