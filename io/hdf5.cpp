// HDF5 files, datasets and attributes; the mutex and handle; publishing a written file.
#include "io/hdf5.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace diffuse {

namespace {

Hdf5Handle handle(hid_t id, Hdf5Handle::Closer closer) { return Hdf5Handle(id, closer); }

// Creates the groups on the way to `path` ("/a/b/c" creates /a and /a/b).
void create_parents(hid_t file, const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string group = path.substr(0, slash);
    if (link_exists(file, group)) continue;
    hid_t id;
    H5_CHECK(id = H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(id);
  }
}

void write_attribute_data(hid_t object, const std::string& name, hid_t file_type, hid_t memory_type,
                          const std::vector<hsize_t>& dims, const void* value) {
  if (has_attribute(object, name)) H5_CHECK(H5Adelete(object, name.c_str()));
  hid_t id;
  H5_CHECK(id = dims.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  const Hdf5Handle space = handle(id, H5Sclose);
  H5_CHECK(id = H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const Hdf5Handle attribute = handle(id, H5Aclose);
  H5_CHECK(H5Awrite(attribute.get(), memory_type, value));
}

Hdf5Handle open_attribute(hid_t object, const std::string& name) {
  DIFFUSE_CHECK(has_attribute(object, name), "attribute '", name, "' is missing");
  hid_t id;
  H5_CHECK(id = H5Aopen(object, name.c_str(), H5P_DEFAULT));
  return handle(id, H5Aclose);
}

template <typename T>
T read_scalar_attribute(hid_t object, const std::string& name, hid_t memory_type) {
  const Hdf5Handle attribute = open_attribute(object, name);
  T value{};
  H5_CHECK(H5Aread(attribute.get(), memory_type, &value));
  return value;
}

void fsync_path(const std::string& path, int flags) {
  const int descriptor = ::open(path.c_str(), flags);
  DIFFUSE_CHECK(descriptor >= 0, "cannot open ", path, " to fsync it: ", std::strerror(errno));
  const int status = ::fsync(descriptor);
  const int fsync_errno = errno;
  ::close(descriptor);
  DIFFUSE_CHECK(status == 0, "fsync of ", path, " failed: ", std::strerror(fsync_errno));
}

}  // namespace

std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

Hdf5Handle& Hdf5Handle::operator=(Hdf5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
  }
  return *this;
}

void Hdf5Handle::reset() { close(); }

herr_t Hdf5Handle::close() {
  herr_t status = 0;
  if (id_ >= 0 && closer_ != nullptr) status = closer_(id_);
  id_ = -1;
  return status;
}

Hdf5Handle open_hdf5_file(const std::string& path) {
  silence_hdf5_errors();
  struct stat status;
  DIFFUSE_CHECK(::stat(path.c_str(), &status) == 0, "cannot open: ", std::strerror(errno));
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  DIFFUSE_CHECK(is_hdf5 > 0, "not an HDF5 file (or truncated or corrupt)");
  hid_t id;
  H5_CHECK(id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  return handle(id, H5Fclose);
}

Hdf5Handle create_hdf5_file(const std::string& path) {
  silence_hdf5_errors();
  hid_t id;
  H5_CHECK(id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  return handle(id, H5Fclose);
}

bool link_exists(hid_t file, const std::string& path) {
  // H5Lexists fails (negative) when a parent group is missing, so walk down the path.
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1))
    if (H5Lexists(file, path.substr(0, slash).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> link_names(hid_t file, const std::string& group) {
  DIFFUSE_CHECK(link_exists(file, group), "group ", group, " is missing");
  hid_t id;
  H5_CHECK(id = H5Gopen2(file, group.c_str(), H5P_DEFAULT));
  const Hdf5Handle opened = handle(id, H5Gclose);
  H5G_info_t info;
  H5_CHECK(H5Gget_info(opened.get(), &info));
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t length;
    H5_CHECK(length = H5Lget_name_by_idx(opened.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT));
    std::string name(static_cast<size_t>(length) + 1, '\0');
    H5_CHECK(
        H5Lget_name_by_idx(opened.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT));
    name.resize(static_cast<size_t>(length));
    names.push_back(std::move(name));
  }
  return names;
}

void write_dataset(hid_t file, const std::string& path, const Shape& shape, hid_t file_type, hid_t memory_type,
                   const void* values) {
  create_parents(file, path);
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t id;
  H5_CHECK(id = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  const Hdf5Handle space = handle(id, H5Sclose);
  H5_CHECK(id = H5Dcreate2(file, path.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  const Hdf5Handle dataset = handle(id, H5Dclose);
  if (shape_numel(shape) > 0) H5_CHECK(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
}

Hdf5Handle open_dataset(hid_t file, const std::string& path, hid_t access) {
  DIFFUSE_CHECK(link_exists(file, path), "dataset ", path, " is missing");
  hid_t id;
  H5_CHECK(id = H5Dopen2(file, path.c_str(), access));
  return handle(id, H5Dclose);
}

Shape dataset_shape(hid_t dataset) {
  hid_t id;
  H5_CHECK(id = H5Dget_space(dataset));
  const Hdf5Handle space = handle(id, H5Sclose);
  int rank;
  H5_CHECK(rank = H5Sget_simple_extent_ndims(space.get()));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  return Shape(dims.begin(), dims.end());
}

void read_dataset(hid_t dataset, hid_t memory_type, void* values) {
  H5_CHECK(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
}

bool has_attribute(hid_t object, const std::string& name) {
  htri_t exists;
  H5_CHECK(exists = H5Aexists(object, name.c_str()));
  return exists > 0;
}

void write_attribute(hid_t object, const std::string& name, int32_t value) {
  write_attribute_data(object, name, H5T_STD_I32LE, H5T_NATIVE_INT32, {}, &value);
}

void write_attribute(hid_t object, const std::string& name, int64_t value) {
  write_attribute_data(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value);
}

void write_attribute(hid_t object, const std::string& name, uint64_t value) {
  write_attribute_data(object, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, {}, &value);
}

void write_attribute(hid_t object, const std::string& name, double value) {
  write_attribute_data(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value);
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  hid_t id;
  H5_CHECK(id = H5Tcopy(H5T_C_S1));
  const Hdf5Handle type = handle(id, H5Tclose);
  H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE));
  H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
  const char* text = value.c_str();
  write_attribute_data(object, name, type.get(), type.get(), {}, &text);
}

void write_attribute(hid_t object, const std::string& name, const std::vector<int64_t>& values) {
  write_attribute_data(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {values.size()}, values.data());
}

int64_t read_int_attribute(hid_t object, const std::string& name) {
  return read_scalar_attribute<int64_t>(object, name, H5T_NATIVE_INT64);
}

uint64_t read_uint_attribute(hid_t object, const std::string& name) {
  return read_scalar_attribute<uint64_t>(object, name, H5T_NATIVE_UINT64);
}

double read_double_attribute(hid_t object, const std::string& name) {
  return read_scalar_attribute<double>(object, name, H5T_NATIVE_DOUBLE);
}

std::string read_string_attribute(hid_t object, const std::string& name) {
  const Hdf5Handle attribute = open_attribute(object, name);
  hid_t id;
  H5_CHECK(id = H5Aget_type(attribute.get()));
  const Hdf5Handle type = handle(id, H5Tclose);
  H5T_class_t type_class;
  H5_CHECK(type_class = H5Tget_class(type.get()));
  DIFFUSE_CHECK(type_class == H5T_STRING, "attribute '", name, "' is not a string");
  htri_t variable;
  H5_CHECK(variable = H5Tis_variable_str(type.get()));
  if (variable > 0) {
    char* text = nullptr;
    H5_CHECK(H5Aread(attribute.get(), type.get(), &text));
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
  }
  std::string value(H5Tget_size(type.get()), '\0');
  H5_CHECK(H5Aread(attribute.get(), type.get(), value.data()));
  return value.substr(0, value.find('\0'));  // fixed-length strings may be NUL-padded
}

std::vector<int64_t> read_int_list_attribute(hid_t object, const std::string& name) {
  const Hdf5Handle attribute = open_attribute(object, name);
  hid_t id;
  H5_CHECK(id = H5Aget_space(attribute.get()));
  const Hdf5Handle space = handle(id, H5Sclose);
  hssize_t count;
  H5_CHECK(count = H5Sget_simple_extent_npoints(space.get()));
  std::vector<int64_t> values(static_cast<size_t>(count));
  if (count > 0) H5_CHECK(H5Aread(attribute.get(), H5T_NATIVE_INT64, values.data()));
  return values;
}

void publish_file(const std::string& temporary, const std::string& path) {
  fsync_path(temporary, O_RDONLY);
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  DIFFUSE_CHECK(!error, "cannot rename ", temporary, " to ", path, ": ", error.message());
  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  fsync_path(directory.empty() ? "." : directory.string(), O_RDONLY | O_DIRECTORY);  // makes the rename durable
}

Error error_with_file_context(const Error& error, const std::string& what, const std::string& path) {
  const std::string message = error.what();
  // Keep the rank first, where every other diffuse message has it.
  size_t body = 0;
  if (message.rfind("[rank ", 0) == 0) {
    const size_t close = message.find("] ");
    if (close != std::string::npos) body = close + 2;
  }
  return Error(concat(message.substr(0, body), what, " ", path, ": ", message.substr(body)));
}

}  // namespace diffuse
