// Hdf5File: datasets, attributes and the temporary-name-then-rename write.
#include "eval/hdf5_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/checks_hdf5.h"
#include "data/file_error.h"

namespace diffuse::eval {

namespace {

using Lock = std::lock_guard<std::mutex>;

Hdf5Handle handle(hid_t id, Hdf5Handle::Closer closer) { return Hdf5Handle(id, closer); }

// Creates the groups on the way to dataset `name` ("/a/b/c" creates /a and /a/b).
void create_parents(hid_t file, const std::string& name) {
  for (size_t slash = name.find('/', 1); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    const std::string group = name.substr(0, slash);
    htri_t exists;
    H5_CHECK(exists = H5Lexists(file, group.c_str(), H5P_DEFAULT));
    if (exists > 0) continue;
    hid_t id;
    H5_CHECK(id = H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(id);
  }
}

void write_dataset(hid_t file, const std::string& name, const Shape& shape, hid_t file_type, hid_t memory_type,
                   const void* values) {
  create_parents(file, name);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t id;
  H5_CHECK(id = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  const Hdf5Handle space = handle(id, H5Sclose);
  H5_CHECK(id = H5Dcreate2(file, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  const Hdf5Handle dataset = handle(id, H5Dclose);
  if (shape_numel(shape) > 0) H5_CHECK(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
}

Hdf5Handle open_dataset(hid_t file, const std::string& name) {
  htri_t exists = H5Lexists(file, name.c_str(), H5P_DEFAULT);
  DIFFUSE_CHECK(exists > 0, "dataset ", name, " is missing");
  hid_t id;
  H5_CHECK(id = H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  return handle(id, H5Dclose);
}

Shape shape_of(hid_t dataset) {
  hid_t id;
  H5_CHECK(id = H5Dget_space(dataset));
  const Hdf5Handle space = handle(id, H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  DIFFUSE_CHECK(rank >= 0, "cannot read a dataset's rank");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  return Shape(dims.begin(), dims.end());
}

template <typename T>
std::vector<T> read_dataset(hid_t file, const std::string& name, hid_t memory_type) {
  const Hdf5Handle dataset = open_dataset(file, name);
  std::vector<T> values(static_cast<size_t>(shape_numel(shape_of(dataset.get()))));
  if (!values.empty()) H5_CHECK(H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
  return values;
}

void write_attribute(hid_t file, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                     const void* value) {
  if (H5Aexists(file, name.c_str()) > 0) H5_CHECK(H5Adelete(file, name.c_str()));
  hid_t id;
  H5_CHECK(id = dims.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  const Hdf5Handle space = handle(id, H5Sclose);
  H5_CHECK(id = H5Acreate2(file, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const Hdf5Handle attribute = handle(id, H5Aclose);
  H5_CHECK(H5Awrite(attribute.get(), type, value));
}

Hdf5Handle open_attribute(hid_t file, const std::string& name) {
  DIFFUSE_CHECK(H5Aexists(file, name.c_str()) > 0, "attribute '", name, "' is missing");
  hid_t id;
  H5_CHECK(id = H5Aopen(file, name.c_str(), H5P_DEFAULT));
  return handle(id, H5Aclose);
}

void fsync_file(const std::string& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY);
  DIFFUSE_CHECK(descriptor >= 0, "cannot open ", path, " to fsync it: ", std::strerror(errno));
  const int status = ::fsync(descriptor);
  const int error = errno;
  ::close(descriptor);
  DIFFUSE_CHECK(status == 0, "fsync of ", path, " failed: ", std::strerror(error));
}

}  // namespace

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
  const Lock lock(hdf5_mutex());
  file_.reset();
  if (writing_ && !committed_) {
    std::error_code ignored;
    std::filesystem::remove(open_path_, ignored);
  }
}

Hdf5File Hdf5File::open(const std::string& path) {
  return with_file_context("file", path, [&] {
    silence_hdf5_errors();
    DIFFUSE_CHECK(std::filesystem::exists(path), "no such file");
    const Lock lock(hdf5_mutex());
    hid_t id;
    H5_CHECK(id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    return Hdf5File(path, path, handle(id, H5Fclose), false);
  });
}

Hdf5File Hdf5File::create(const std::string& path) {
  return with_file_context("file", path, [&] {
    silence_hdf5_errors();
    const std::string temporary = path + ".tmp";
    const Lock lock(hdf5_mutex());
    hid_t id;
    H5_CHECK(id = H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    return Hdf5File(path, temporary, handle(id, H5Fclose), true);
  });
}

void Hdf5File::write_floats(const std::string& name, const Shape& shape, const float* values) {
  with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    write_dataset(file_.get(), name, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values);
  });
}

void Hdf5File::write_doubles(const std::string& name, const Shape& shape, const double* values) {
  with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    write_dataset(file_.get(), name, shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values);
  });
}

bool Hdf5File::has_dataset(const std::string& name) const {
  const Lock lock(hdf5_mutex());
  // H5Lexists fails (negative) when a parent group is missing: that is "no" too.
  for (size_t slash = name.find('/', 1); slash != std::string::npos; slash = name.find('/', slash + 1))
    if (H5Lexists(file_.get(), name.substr(0, slash).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) > 0;
}

Shape Hdf5File::dataset_shape(const std::string& name) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    return shape_of(open_dataset(file_.get(), name).get());
  });
}

std::vector<float> Hdf5File::read_floats(const std::string& name) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    return read_dataset<float>(file_.get(), name, H5T_NATIVE_FLOAT);
  });
}

std::vector<double> Hdf5File::read_doubles(const std::string& name) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    return read_dataset<double>(file_.get(), name, H5T_NATIVE_DOUBLE);
  });
}

std::vector<std::string> Hdf5File::dataset_names(const std::string& group) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    DIFFUSE_CHECK(H5Lexists(file_.get(), group.c_str(), H5P_DEFAULT) > 0, "group ", group, " is missing");
    hid_t id;
    H5_CHECK(id = H5Gopen2(file_.get(), group.c_str(), H5P_DEFAULT));
    const Hdf5Handle opened = handle(id, H5Gclose);
    H5G_info_t info;
    H5_CHECK(H5Gget_info(opened.get(), &info));
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t length =
          H5Lget_name_by_idx(opened.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      DIFFUSE_CHECK(length >= 0, "cannot list group ", group);
      std::string name(static_cast<size_t>(length) + 1, '\0');
      H5Lget_name_by_idx(opened.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
      name.resize(static_cast<size_t>(length));
      names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  });
}

void Hdf5File::set_attribute(const std::string& name, const std::string& value) {
  with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    hid_t id;
    H5_CHECK(id = H5Tcopy(H5T_C_S1));
    const Hdf5Handle type = handle(id, H5Tclose);
    H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE));
    H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
    const char* text = value.c_str();
    write_attribute(file_.get(), name, type.get(), {}, &text);
  });
}

void Hdf5File::set_attribute(const std::string& name, int64_t value) {
  with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    write_attribute(file_.get(), name, H5T_NATIVE_INT64, {}, &value);
  });
}

void Hdf5File::set_attribute(const std::string& name, double value) {
  with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    write_attribute(file_.get(), name, H5T_NATIVE_DOUBLE, {}, &value);
  });
}

void Hdf5File::set_attribute(const std::string& name, const std::vector<int64_t>& values) {
  with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    write_attribute(file_.get(), name, H5T_NATIVE_INT64, {values.size()}, values.data());
  });
}

bool Hdf5File::has_attribute(const std::string& name) const {
  const Lock lock(hdf5_mutex());
  return H5Aexists(file_.get(), name.c_str()) > 0;
}

std::string Hdf5File::string_attribute(const std::string& name) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    const Hdf5Handle attribute = open_attribute(file_.get(), name);
    hid_t id;
    H5_CHECK(id = H5Aget_type(attribute.get()));
    const Hdf5Handle stored = handle(id, H5Tclose);
    DIFFUSE_CHECK(H5Tget_class(stored.get()) == H5T_STRING, "attribute '", name, "' is not a string");
    if (H5Tis_variable_str(stored.get()) > 0) {
      char* text = nullptr;
      H5_CHECK(H5Aread(attribute.get(), stored.get(), &text));
      std::string value = text != nullptr ? text : "";
      H5free_memory(text);
      return value;
    }
    std::string value(H5Tget_size(stored.get()), '\0');
    H5_CHECK(H5Aread(attribute.get(), stored.get(), value.data()));
    return std::string(value.c_str());  // fixed-length strings may be NUL-padded
  });
}

int64_t Hdf5File::int_attribute(const std::string& name) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    const Hdf5Handle attribute = open_attribute(file_.get(), name);
    int64_t value = 0;
    H5_CHECK(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value));
    return value;
  });
}

double Hdf5File::double_attribute(const std::string& name) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    const Hdf5Handle attribute = open_attribute(file_.get(), name);
    double value = 0.0;
    H5_CHECK(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value));
    return value;
  });
}

std::vector<int64_t> Hdf5File::int_list_attribute(const std::string& name) const {
  return with_file_context("file", path_, [&] {
    const Lock lock(hdf5_mutex());
    const Hdf5Handle attribute = open_attribute(file_.get(), name);
    hid_t id;
    H5_CHECK(id = H5Aget_space(attribute.get()));
    const Hdf5Handle space = handle(id, H5Sclose);
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    DIFFUSE_CHECK(count >= 0, "cannot size attribute '", name, "'");
    std::vector<int64_t> values(static_cast<size_t>(count));
    if (count > 0) H5_CHECK(H5Aread(attribute.get(), H5T_NATIVE_INT64, values.data()));
    return values;
  });
}

void Hdf5File::commit() {
  with_file_context("file", path_, [&] {
    DIFFUSE_CHECK(writing_ && !committed_, "commit() of a file that is not being written");
    {
      const Lock lock(hdf5_mutex());
      H5_CHECK(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL));
      DIFFUSE_CHECK(file_.close() >= 0, "closing the file failed");
    }
    fsync_file(open_path_);
    std::error_code error;
    std::filesystem::rename(open_path_, path_, error);
    DIFFUSE_CHECK(!error, "cannot rename ", open_path_, " to ", path_, ": ", error.message());
    committed_ = true;
  });
}

}  // namespace diffuse::eval
