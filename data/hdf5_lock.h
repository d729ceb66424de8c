// Serialises HDF5 and closes its handles. Debian builds HDF5 without its
// thread-safety option, so every HDF5 call in the process (dataset reads on
// the loader thread, checkpoint writes on the training thread) must hold the
// one mutex returned by hdf5_mutex().
#pragma once

#include <hdf5.h>

#include <mutex>

namespace diffuse {

std::mutex& hdf5_mutex();

// Owns one HDF5 identifier (file, dataset, dataspace, attribute, type or
// property list) and closes it with the matching H5?close. Close it while
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

}  // namespace diffuse
