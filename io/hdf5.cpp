// Hdf5File: files, datasets, row ranges and attributes over the HDF5 C API.
#include "io/hdf5.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "io/checks_hdf5.h"
#include "io/file_context.h"

namespace diffuse {

namespace {

std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

// Owns one HDF5 identifier (group, dataset, dataspace, attribute, type or property list) and
// closes it with the matching H5?close; used while holding the mutex.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { closer_(id_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  Closer closer_;
};

// The HDF5 types of the values diffuse stores: in memory and (little-endian) in the file.
template <typename T>
struct Types;
template <>
struct Types<uint8_t> {
  static hid_t memory() { return H5T_NATIVE_UINT8; }
  static hid_t file() { return H5T_STD_U8LE; }
};
template <>
struct Types<int32_t> {
  static hid_t memory() { return H5T_NATIVE_INT32; }
  static hid_t file() { return H5T_STD_I32LE; }
};
template <>
struct Types<int64_t> {
  static hid_t memory() { return H5T_NATIVE_INT64; }
  static hid_t file() { return H5T_STD_I64LE; }
};
template <>
struct Types<uint64_t> {
  static hid_t memory() { return H5T_NATIVE_UINT64; }
  static hid_t file() { return H5T_STD_U64LE; }
};
template <>
struct Types<float> {
  static hid_t memory() { return H5T_NATIVE_FLOAT; }
  static hid_t file() { return H5T_IEEE_F32LE; }
};
template <>
struct Types<double> {
  static hid_t memory() { return H5T_NATIVE_DOUBLE; }
  static hid_t file() { return H5T_IEEE_F64LE; }
};

bool link_exists(hid_t file, const std::string& path) {
  // H5Lexists fails (negative) when a parent group is missing, so walk down the path.
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1))
    if (H5Lexists(file, path.substr(0, slash).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0;
}

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

Handle open_dataset(hid_t file, const std::string& path, hid_t access = H5P_DEFAULT) {
  DIFFUSE_CHECK(link_exists(file, path), "dataset ", path, " is missing");
  hid_t id;
  H5_CHECK(id = H5Dopen2(file, path.c_str(), access));
  return Handle(id, H5Dclose);
}

Handle simple_space(const Shape& shape) {
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t id;
  H5_CHECK(id = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  return Handle(id, H5Sclose);
}

Shape shape_of(hid_t dataset) {
  hid_t id;
  H5_CHECK(id = H5Dget_space(dataset));
  const Handle space(id, H5Sclose);
  int rank;
  H5_CHECK(rank = H5Sget_simple_extent_ndims(space.get()));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  return Shape(dims.begin(), dims.end());
}

template <typename T>
void write_whole(hid_t file, const std::string& path, const Shape& shape, const T* values) {
  create_parents(file, path);
  const Handle space = simple_space(shape);
  hid_t id;
  H5_CHECK(id = H5Dcreate2(file, path.c_str(), Types<T>::file(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  const Handle dataset(id, H5Dclose);
  if (shape_numel(shape) > 0)
    H5_CHECK(H5Dwrite(dataset.get(), Types<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
}

template <typename T>
void read_whole(hid_t file, const std::string& path, T* values) {
  const Handle dataset = open_dataset(file, path);
  if (shape_numel(shape_of(dataset.get())) > 0)
    H5_CHECK(H5Dread(dataset.get(), Types<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
}

// Selects `rows` of a dataset whose rows have the extents `row_extents` in `file_space`, and
// returns the matching memory space.
Handle select_rows(hid_t file_space, const std::vector<hsize_t>& row_extents, RowRange rows) {
  std::vector<hsize_t> start(row_extents.size() + 1, 0), extent(row_extents.size() + 1);
  start[0] = static_cast<hsize_t>(rows.first);
  extent[0] = static_cast<hsize_t>(rows.count);
  std::copy(row_extents.begin(), row_extents.end(), extent.begin() + 1);
  H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr));
  hid_t id;
  H5_CHECK(id = H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr));
  return Handle(id, H5Sclose);
}

// The extents of one row of `dataset` and the number of elements in it.
std::vector<hsize_t> row_extents(hid_t dataset, int64_t* row_elements) {
  const Shape shape = shape_of(dataset);
  DIFFUSE_CHECK(!shape.empty(), "a scalar dataset has no rows");
  *row_elements = shape_numel(Shape(shape.begin() + 1, shape.end()));
  return std::vector<hsize_t>(shape.begin() + 1, shape.end());
}

Handle open_attribute(hid_t object, const std::string& name) {
  htri_t exists;
  H5_CHECK(exists = H5Aexists(object, name.c_str()));
  DIFFUSE_CHECK(exists > 0, "attribute '", name, "' is missing");
  hid_t id;
  H5_CHECK(id = H5Aopen(object, name.c_str(), H5P_DEFAULT));
  return Handle(id, H5Aclose);
}

void write_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t memory_type,
                     const std::vector<hsize_t>& dims, const void* value) {
  htri_t exists;
  H5_CHECK(exists = H5Aexists(object, name.c_str()));
  if (exists > 0) H5_CHECK(H5Adelete(object, name.c_str()));
  hid_t id;
  H5_CHECK(id = dims.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  const Handle space(id, H5Sclose);
  H5_CHECK(id = H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const Handle attribute(id, H5Aclose);
  H5_CHECK(H5Awrite(attribute.get(), memory_type, value));
}

template <typename T>
void write_scalar_attribute(hid_t object, const std::string& name, T value) {
  write_attribute(object, name, Types<T>::file(), Types<T>::memory(), {}, &value);
}

template <typename T>
T read_scalar_attribute(hid_t object, const std::string& name) {
  const Handle attribute = open_attribute(object, name);
  T value{};
  H5_CHECK(H5Aread(attribute.get(), Types<T>::memory(), &value));
  return value;
}

}  // namespace

template <typename Body>
auto Hdf5File::locked(Body&& body) const -> decltype(body()) {
  return with_file_context(what_, path_, [&] {
    const std::lock_guard<std::mutex> lock(hdf5_mutex());
    return body();
  });
}

template <typename Body>
void Hdf5File::writing(Body&& body) {
  locked([&] {
    DIFFUSE_CHECK(write_status_ != nullptr, "the file is open for reading only");
    // The driver reports a failed write only here, whatever HDF5 made of the call.
    try {
      body();
    } catch (const Error&) {
      check_written();
      throw;
    }
    check_written();
  });
}

void Hdf5File::check_written() const {
  const int error_number = write_status_->error_number;
  DIFFUSE_CHECK(error_number == 0, "cannot write ", pending_->temporary_path(), ": ", std::strerror(error_number));
}

Hdf5File::Hdf5File(const std::string& path, const std::string& what, hid_t file, std::optional<AtomicFile> pending,
                   std::unique_ptr<WriteStatus> write_status)
    : path_(path), what_(what), file_(file), pending_(std::move(pending)), write_status_(std::move(write_status)) {}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept
    : path_(std::move(other.path_)),
      what_(std::move(other.what_)),
      file_(other.file_),
      pending_(std::move(other.pending_)),
      write_status_(std::move(other.write_status_)) {
  other.file_ = H5I_INVALID_HID;
}

Hdf5File::~Hdf5File() {
  if (file_ >= 0) {
    const std::lock_guard<std::mutex> lock(hdf5_mutex());
    // Cannot fail for a file being written, even on a full disk (io/hdf5_write_driver.h).
    H5Fclose(file_);
  }
  // pending_ (if any) now removes the temporary file.
}

Hdf5File Hdf5File::open(const std::string& path, const std::string& what) {
  return with_file_context(what, path, [&] {
    const std::lock_guard<std::mutex> lock(hdf5_mutex());
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
    return Hdf5File(path, what, id, std::nullopt, nullptr);
  });
}

Hdf5File Hdf5File::create(const std::string& path, const std::string& what) {
  AtomicFile pending(path);
  auto write_status = std::make_unique<WriteStatus>();
  return with_file_context(what, path, [&] {
    const std::lock_guard<std::mutex> lock(hdf5_mutex());
    silence_hdf5_errors();
    const Handle access(create_write_access(write_status.get()), H5Pclose);
    hid_t id;
    H5_CHECK(id = H5Fcreate(pending.temporary_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()));
    return Hdf5File(path, what, id, std::move(pending), std::move(write_status));
  });
}

void Hdf5File::commit() {
  locked([&] {
    DIFFUSE_CHECK(pending_.has_value() && file_ >= 0, "commit() of a file that is not being written");
    const herr_t status = H5Fclose(file_);
    file_ = H5I_INVALID_HID;  // even if the close failed: HDF5 has released the file then too
    check_written();          // the close writes what HDF5 still held
    DIFFUSE_CHECK(status >= 0, "closing the file failed: ", checks::hdf5_error_stack_text());
  });
  with_file_context(what_, path_, [&] { pending_->publish(); });
}

bool Hdf5File::exists(const std::string& name) const {
  return locked([&] { return link_exists(file_, name); });
}

std::vector<std::string> Hdf5File::names_in(const std::string& group) const {
  return locked([&] {
    DIFFUSE_CHECK(link_exists(file_, group), "group ", group, " is missing");
    hid_t id;
    H5_CHECK(id = H5Gopen2(file_, group.c_str(), H5P_DEFAULT));
    const Handle opened(id, H5Gclose);
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
  });
}

void Hdf5File::write(const std::string& name, const Shape& shape, const float* values) {
  writing([&] { write_whole(file_, name, shape, values); });
}

void Hdf5File::write(const std::string& name, const Shape& shape, const double* values) {
  writing([&] { write_whole(file_, name, shape, values); });
}

Shape Hdf5File::dataset_shape(const std::string& name) const {
  return locked([&] { return shape_of(open_dataset(file_, name).get()); });
}

ElementType Hdf5File::element_type(const std::string& name) const {
  return locked([&] {
    const Handle dataset = open_dataset(file_, name);
    hid_t id;
    H5_CHECK(id = H5Dget_type(dataset.get()));
    const Handle type(id, H5Tclose);
    H5T_class_t type_class;
    H5_CHECK(type_class = H5Tget_class(type.get()));
    ElementType element;
    element.kind = type_class == H5T_INTEGER ? ElementType::Kind::Integer
                   : type_class == H5T_FLOAT ? ElementType::Kind::Float
                                             : ElementType::Kind::Other;
    element.bytes = H5Tget_size(type.get());
    element.is_signed = type_class == H5T_INTEGER && H5Tget_sign(type.get()) == H5T_SGN_2;
    return element;
  });
}

void Hdf5File::read(const std::string& name, float* values) const {
  locked([&] { read_whole(file_, name, values); });
}

void Hdf5File::read(const std::string& name, double* values) const {
  locked([&] { read_whole(file_, name, values); });
}

void Hdf5File::read(const std::string& name, int32_t* values) const {
  locked([&] { read_whole(file_, name, values); });
}

std::vector<float> Hdf5File::read_floats(const std::string& name) const {
  std::vector<float> values(static_cast<size_t>(shape_numel(dataset_shape(name))));
  read(name, values.data());
  return values;
}

std::vector<double> Hdf5File::read_doubles(const std::string& name) const {
  std::vector<double> values(static_cast<size_t>(shape_numel(dataset_shape(name))));
  read(name, values.data());
  return values;
}

template <typename T>
void Hdf5File::create_rows(const std::string& name, const Shape& shape, int64_t chunk_rows) {
  writing([&] {
    create_parents(file_, name);
    const Handle space = simple_space(shape);
    hid_t id;
    H5_CHECK(id = H5Pcreate(H5P_DATASET_CREATE));
    const Handle properties(id, H5Pclose);
    if (chunk_rows > 0) {
      std::vector<hsize_t> chunk(shape.begin(), shape.end());
      chunk[0] = static_cast<hsize_t>(chunk_rows);
      H5_CHECK(H5Pset_chunk(properties.get(), static_cast<int>(chunk.size()), chunk.data()));
      H5_CHECK(H5Pset_fill_time(properties.get(), H5D_FILL_TIME_NEVER));
    }
    H5_CHECK(id = H5Dcreate2(file_, name.c_str(), Types<T>::file(), space.get(), H5P_DEFAULT, properties.get(),
                             H5P_DEFAULT));
    H5Dclose(id);
  });
}

template <typename T>
void Hdf5File::write_rows(const std::string& name, RowRange rows, const T* values) {
  if (rows.count == 0) return;
  writing([&] {
    const Handle dataset = open_dataset(file_, name);
    int64_t row_elements;
    const std::vector<hsize_t> extents = row_extents(dataset.get(), &row_elements);
    hid_t id;
    H5_CHECK(id = H5Dget_space(dataset.get()));
    const Handle file_space(id, H5Sclose);
    const Handle memory_space = select_rows(file_space.get(), extents, rows);
    H5_CHECK(H5Dwrite(dataset.get(), Types<T>::memory(), memory_space.get(), file_space.get(), H5P_DEFAULT, values));
  });
}

template void Hdf5File::create_rows<uint8_t>(const std::string&, const Shape&, int64_t);
template void Hdf5File::create_rows<int32_t>(const std::string&, const Shape&, int64_t);
template void Hdf5File::write_rows<uint8_t>(const std::string&, RowRange, const uint8_t*);
template void Hdf5File::write_rows<int32_t>(const std::string&, RowRange, const int32_t*);

void Hdf5File::read_rows(const std::string& name, const std::vector<RowRange>& ranges, uint8_t* out) const {
  if (ranges.empty()) return;
  locked([&] {
    hid_t id;
    H5_CHECK(id = H5Pcreate(H5P_DATASET_ACCESS));
    const Handle access(id, H5Pclose);
    H5_CHECK(H5Pset_chunk_cache(access.get(), 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT));
    const Handle dataset = open_dataset(file_, name, access.get());
    int64_t row_elements;
    const std::vector<hsize_t> extents = row_extents(dataset.get(), &row_elements);
    H5_CHECK(id = H5Dget_space(dataset.get()));
    const Handle file_space(id, H5Sclose);
    for (const RowRange& rows : ranges) {
      if (rows.count == 0) continue;
      const Handle memory_space = select_rows(file_space.get(), extents, rows);
      H5_CHECK(H5Dread(dataset.get(), H5T_NATIVE_UINT8, memory_space.get(), file_space.get(), H5P_DEFAULT, out));
      out += rows.count * row_elements;
    }
  });
}

void Hdf5File::set_attribute(const std::string& name, int32_t value) {
  writing([&] { write_scalar_attribute(file_, name, value); });
}

void Hdf5File::set_attribute(const std::string& name, int64_t value) {
  writing([&] { write_scalar_attribute(file_, name, value); });
}

void Hdf5File::set_attribute(const std::string& name, uint64_t value) {
  writing([&] { write_scalar_attribute(file_, name, value); });
}

void Hdf5File::set_attribute(const std::string& name, double value) {
  writing([&] { write_scalar_attribute(file_, name, value); });
}

void Hdf5File::set_attribute(const std::string& name, const std::string& value) {
  writing([&] {
    hid_t id;
    H5_CHECK(id = H5Tcopy(H5T_C_S1));
    const Handle type(id, H5Tclose);
    H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE));
    H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
    const char* text = value.c_str();
    write_attribute(file_, name, type.get(), type.get(), {}, &text);
  });
}

void Hdf5File::set_attribute(const std::string& name, const std::vector<int64_t>& values) {
  writing([&] {
    write_attribute(file_, name, Types<int64_t>::file(), Types<int64_t>::memory(), {values.size()}, values.data());
  });
}

bool Hdf5File::has_attribute(const std::string& name) const {
  return locked([&] {
    htri_t exists;
    H5_CHECK(exists = H5Aexists(file_, name.c_str()));
    return exists > 0;
  });
}

int64_t Hdf5File::int_attribute(const std::string& name) const {
  return locked([&] { return read_scalar_attribute<int64_t>(file_, name); });
}

uint64_t Hdf5File::uint_attribute(const std::string& name) const {
  return locked([&] { return read_scalar_attribute<uint64_t>(file_, name); });
}

double Hdf5File::double_attribute(const std::string& name) const {
  return locked([&] { return read_scalar_attribute<double>(file_, name); });
}

std::string Hdf5File::string_attribute(const std::string& name) const {
  return locked([&] {
    const Handle attribute = open_attribute(file_, name);
    hid_t id;
    H5_CHECK(id = H5Aget_type(attribute.get()));
    const Handle type(id, H5Tclose);
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
  });
}

std::vector<int64_t> Hdf5File::int_list_attribute(const std::string& name) const {
  return locked([&] {
    const Handle attribute = open_attribute(file_, name);
    hid_t id;
    H5_CHECK(id = H5Aget_space(attribute.get()));
    const Handle space(id, H5Sclose);
    hssize_t count;
    H5_CHECK(count = H5Sget_simple_extent_npoints(space.get()));
    std::vector<int64_t> values(static_cast<size_t>(count));
    if (count > 0) H5_CHECK(H5Aread(attribute.get(), H5T_NATIVE_INT64, values.data()));
    return values;
  });
}

}  // namespace diffuse
