// The process-wide HDF5 mutex and the handle that closes HDF5 identifiers.
#include "data/hdf5_lock.h"

namespace diffuse {

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

}  // namespace diffuse
