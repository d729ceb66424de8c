// Hdf5File: the one way diffuse reads and writes HDF5 files (dataset files,
// checkpoints, feature networks, reference statistics): whole datasets, row
// ranges of large ones, groups, and root attributes.
//
// Files are written under a temporary name and published by commit()
// (io/atomic_file.h), so a crash never leaves a half-written file under the
// final name, and a failed write (a full disk) is an error naming the file and
// the system's reason that leaves no temporary behind (io/hdf5_write_driver.h).
// Errors name the file ("checkpoint runs/x/ckpt-00000100.h5: dataset
// /params/conv_in.weight is missing").
//
// Debian builds HDF5 without its thread-safety option, so every HDF5 call in
// the process (dataset reads on the loader thread, checkpoint writes on the
// training thread) holds one process-wide mutex; every Hdf5File method takes it.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/atomic_file.h"
#include "io/hdf5_write_driver.h"

namespace diffuse {

// How a dataset's elements are stored.
struct ElementType {
  enum class Kind { Integer, Float, Other };
  Kind kind = Kind::Other;
  size_t bytes = 0;
  bool is_signed = false;
};

// Rows [first, first + count) along a dataset's first axis.
struct RowRange {
  int64_t first = 0;
  int64_t count = 0;
};

class Hdf5File {
 public:
  // Opens an existing file read-only. A missing, unreadable or non-HDF5 file is an error that says
  // which (errno text, "not an HDF5 file"). `what` names the file in errors: "checkpoint", "dataset".
  static Hdf5File open(const std::string& path, const std::string& what = "file");
  // Starts writing `path` under its temporary name; an existing file is replaced only by commit().
  static Hdf5File create(const std::string& path, const std::string& what = "file");

  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&&) = delete;
  Hdf5File(const Hdf5File&) = delete;
  ~Hdf5File();  // a file being written and never committed is removed

  const std::string& path() const { return path_; }

  // Closes the file and publishes it under its final name.
  void commit();

  // Links ("/params/conv_in.weight", "/ema"): whether one exists (a missing parent group is "no"
  // too), and the names directly inside a group, in name order (a missing group is an error).
  bool exists(const std::string& name) const;
  std::vector<std::string> names_in(const std::string& group) const;

  // Whole datasets, stored little-endian as the values' type; parent groups are created as needed.
  void write(const std::string& name, const Shape& shape, const float* values);
  void write(const std::string& name, const Shape& shape, const double* values);
  Shape dataset_shape(const std::string& name) const;
  ElementType element_type(const std::string& name) const;
  // Reads a whole dataset, converting from its stored type, into `values`, which holds
  // shape_numel(dataset_shape(name)) elements.
  void read(const std::string& name, float* values) const;
  void read(const std::string& name, double* values) const;
  void read(const std::string& name, int32_t* values) const;
  std::vector<float> read_floats(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;

  // Datasets written a range of rows at a time (dataset files). create_rows() makes an unfilled
  // dataset of `shape` holding uint8_t or int32_t, contiguous, or in chunks of `chunk_rows` rows
  // (never filled with a fill value: every row gets written).
  template <typename T>
  void create_rows(const std::string& name, const Shape& shape, int64_t chunk_rows = 0);
  template <typename T>
  void write_rows(const std::string& name, RowRange rows, const T* values);
  // Reads `ranges` one after another into `out`, without HDF5's chunk cache: it would read a whole
  // chunk to return one image of it, and the loader's reads are random.
  void read_rows(const std::string& name, const std::vector<RowRange>& ranges, uint8_t* out) const;

  // Root attributes, written in little-endian types and replacing any attribute of the same name.
  // Strings are variable-length UTF-8, what h5py writes and reads back as str.
  void set_attribute(const std::string& name, int32_t value);
  void set_attribute(const std::string& name, int64_t value);
  void set_attribute(const std::string& name, uint64_t value);
  void set_attribute(const std::string& name, double value);
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, const std::vector<int64_t>& values);  // 1-D
  // Reading converts from any stored integer or float type; a missing attribute is an error naming it.
  bool has_attribute(const std::string& name) const;
  int64_t int_attribute(const std::string& name) const;
  uint64_t uint_attribute(const std::string& name) const;
  double double_attribute(const std::string& name) const;
  std::string string_attribute(const std::string& name) const;  // fixed or variable length
  std::vector<int64_t> int_list_attribute(const std::string& name) const;

 private:
  Hdf5File(const std::string& path, const std::string& what, hid_t file, std::optional<AtomicFile> pending,
           std::unique_ptr<WriteStatus> write_status);

  // Runs `body` holding the HDF5 mutex, with errors naming the file.
  template <typename Body>
  auto locked(Body&& body) const -> decltype(body());
  // locked() for a change to a file being written, which fails if a write to the file has failed.
  template <typename Body>
  void writing(Body&& body);
  void check_written() const;

  std::string path_;
  std::string what_;
  hid_t file_ = H5I_INVALID_HID;
  std::optional<AtomicFile> pending_;          // while writing: the temporary file HDF5 has open
  std::unique_ptr<WriteStatus> write_status_;  // while writing: whether a write to it failed
};

}  // namespace diffuse
