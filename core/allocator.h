// Per-device allocators. Each counts the bytes it holds and the peak, which
// the benchmarks report as the memory a training step needs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace diffuse {

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Throws a fault deferred from an earlier release first (core/error.h): the next checked point after it.
  void* allocate(size_t bytes);
  // Runs in tensor deleters, so never throws: a failing raw_deallocate is deferred (core/error.h).
  void deallocate(void* pointer, size_t bytes) noexcept;
  int64_t bytes_in_use() const { return in_use_.load(); }
  int64_t peak_bytes() const { return peak_.load(); }
  void reset_peak() { peak_.store(in_use_.load()); }
  // Gives the free blocks kept for reuse back to the system (to the driver, for a device), so that a request larger
  // than any of them, or memory allocated outside this allocator, can be had. Allocators that cache nothing have
  // nothing to give back.
  virtual void release_cached() {}

 protected:
  virtual void* raw_allocate(size_t bytes) = 0;
  virtual void raw_deallocate(void* pointer, size_t bytes) = 0;

 private:
  std::atomic<int64_t> in_use_{0};  // allocations also come from the data loader thread
  std::atomic<int64_t> peak_{0};
};

// The allocator of a device; throws when the device is not available in this
// build or on this machine.
Allocator& allocator_for(Device device);

}  // namespace diffuse
