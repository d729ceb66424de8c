// HDF5 plumbing for every file diffuse reads and writes (datasets,
// checkpoints, feature networks, reference statistics): the process-wide
// HDF5 mutex, an owning handle, files, whole datasets and root attributes,
// the temporary-name-then-rename commit, and error context naming the file.
//
// Debian builds HDF5 without its thread-safety option, so every HDF5 call in
// the process (dataset reads on the loader thread, checkpoint writes on the
// training thread) must hold the one mutex returned by hdf5_mutex(). The
// functions taking a hid_t expect the caller to hold it.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "io/checks_hdf5.h"
#include "core/error.h"
#include "core/tensor.h"

namespace diffuse {

std::mutex& hdf5_mutex();

// Owns one HDF5 identifier (file, group, dataset, dataspace, attribute, type
// or property list) and closes it with the matching H5?close. Close it while
// holding hdf5_mutex(): declare the lock before the handle.
class Hdf5Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Hdf5Handle() = default;
  Hdf5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Hdf5Handle() { reset(); }
  Hdf5Handle(Hdf5Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Hdf5Handle& operator=(Hdf5Handle&& other) noexcept;
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; failures to close are ignored because nothing can be done about them.
  void reset();
  // Closes now and reports failure: for files being written, where a failed close means lost data.
  herr_t close();

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Opens an existing file read-only. A missing, unreadable or non-HDF5 file is
// an error that says which (errno text, "not an HDF5 file").
Hdf5Handle open_hdf5_file(const std::string& path);
// Creates (or truncates) a file for writing.
Hdf5Handle create_hdf5_file(const std::string& path);

// Whether the link `path` ("/a/b/c") exists; a missing parent group is "no" too.
bool link_exists(hid_t file, const std::string& path);
// Names of the links directly inside `group`, in name order; a missing group is an error naming it.
std::vector<std::string> link_names(hid_t file, const std::string& group);

// Writes a whole dataset `path` of `shape` (contiguous), creating its parent groups as needed.
void write_dataset(hid_t file, const std::string& path, const Shape& shape, hid_t file_type, hid_t memory_type,
                   const void* values);
// Opens dataset `path`; a missing one is an error naming it.
Hdf5Handle open_dataset(hid_t file, const std::string& path, hid_t access = H5P_DEFAULT);
Shape dataset_shape(hid_t dataset);
// Reads the whole dataset into `values`, which holds shape_numel(dataset_shape(dataset)) elements.
void read_dataset(hid_t dataset, hid_t memory_type, void* values);

// Attributes of `object` (a file or group), written in little-endian types and
// replacing any attribute of the same name. Strings are variable-length UTF-8,
// what h5py writes and reads back as str.
bool has_attribute(hid_t object, const std::string& name);
void write_attribute(hid_t object, const std::string& name, int32_t value);
void write_attribute(hid_t object, const std::string& name, int64_t value);
void write_attribute(hid_t object, const std::string& name, uint64_t value);
void write_attribute(hid_t object, const std::string& name, double value);
void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, const std::vector<int64_t>& values);  // 1-D
// Reading converts from any stored integer or float type; a missing attribute is an error naming it.
int64_t read_int_attribute(hid_t object, const std::string& name);
uint64_t read_uint_attribute(hid_t object, const std::string& name);
double read_double_attribute(hid_t object, const std::string& name);
std::string read_string_attribute(hid_t object, const std::string& name);  // fixed or variable length
std::vector<int64_t> read_int_list_attribute(hid_t object, const std::string& name);

// Makes a fully written, closed `temporary` file the file `path`: fsyncs it,
// renames it onto `path` and fsyncs the directory, so a crash leaves either
// the old file or the complete new one under `path`. Needs no HDF5 mutex.
void publish_file(const std::string& temporary, const std::string& path);

// Errors about one file name it first: "dataset /data/train.h5: /labels has
// 10 entries but /images has 12". Code that works on one file runs its body
// through with_file_context() so that every check inside, including the HDF5
// ones whose statement text only says `path.c_str()`, names the file.
//
// The same error with "<what> <path>: " in front (after any "[rank r] " prefix).
Error error_with_file_context(const Error& error, const std::string& what, const std::string& path);

template <typename Body>
auto with_file_context(const std::string& what, const std::string& path, Body&& body) -> decltype(body()) {
  try {
    return std::forward<Body>(body)();
  } catch (const Error& error) {
    throw error_with_file_context(error, what, path);
  }
}

}  // namespace diffuse
