// Hdf5File: one evaluation file (feature network weights, cached reference
// statistics) over io/hdf5.h: named fp32/fp64 datasets under groups, and
// scalar, string and integer-list attributes on the root. Files are written
// to "<path>.tmp" and renamed by commit(), so a crash never leaves a
// half-written file under the final name. Every call holds hdf5_mutex();
// errors name the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/hdf5.h"

namespace diffuse::eval {

class Hdf5File {
 public:
  // Opens an existing file read-only.
  static Hdf5File open(const std::string& path);
  // Starts writing `path` (through "<path>.tmp"); an existing file is replaced only by commit().
  static Hdf5File create(const std::string& path);

  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&&) = delete;
  Hdf5File(const Hdf5File&) = delete;
  ~Hdf5File();  // a file being written and never committed is removed

  const std::string& path() const { return path_; }

  // Datasets: "/params/conv_in.weight" and the like; parent groups are created as needed.
  void write_floats(const std::string& name, const Shape& shape, const float* values);
  void write_doubles(const std::string& name, const Shape& shape, const double* values);
  bool has_dataset(const std::string& name) const;
  Shape dataset_shape(const std::string& name) const;
  std::vector<float> read_floats(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;
  // Names of the datasets directly inside `group`, sorted.
  std::vector<std::string> dataset_names(const std::string& group) const;

  // Root attributes.
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, int64_t value);
  void set_attribute(const std::string& name, double value);
  void set_attribute(const std::string& name, const std::vector<int64_t>& values);
  bool has_attribute(const std::string& name) const;
  std::string string_attribute(const std::string& name) const;
  int64_t int_attribute(const std::string& name) const;
  double double_attribute(const std::string& name) const;
  std::vector<int64_t> int_list_attribute(const std::string& name) const;

  // Closes, fsyncs and renames the temporary file onto the final path.
  void commit();

 private:
  // Runs `body` holding hdf5_mutex(), with errors naming the file.
  template <typename Body>
  auto locked(Body&& body) const -> decltype(body());

  Hdf5File(const std::string& path, const std::string& open_path, Hdf5Handle file, bool writing);

  std::string path_;       // the final name
  std::string open_path_;  // the name HDF5 has open ("<path>.tmp" while writing)
  Hdf5Handle file_;
  bool writing_ = false;
  bool committed_ = false;
};

}  // namespace diffuse::eval
