#include "core/allocator.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse {

namespace {

// 64-byte alignment: a cache line and a full AVX-512 vector.
constexpr size_t kCpuAlignment = 64;

class CpuAllocator final : public Allocator {
 protected:
  void* raw_allocate(size_t bytes) override {
    const size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* pointer = std::aligned_alloc(kCpuAlignment, rounded == 0 ? kCpuAlignment : rounded);
    DIFFUSE_CHECK(pointer != nullptr, "out of host memory allocating ", bytes, " bytes");
    return pointer;
  }
  void raw_deallocate(void* pointer) override { std::free(pointer); }
};

}  // namespace

void* Allocator::allocate(size_t bytes) {
  void* pointer = raw_allocate(bytes);
  const int64_t now = in_use_.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes);
  int64_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
  return pointer;
}

void Allocator::deallocate(void* pointer, size_t bytes) {
  if (pointer == nullptr) return;
  raw_deallocate(pointer);
  in_use_.fetch_sub(static_cast<int64_t>(bytes));
}

Allocator& allocator_for(Device device) {
  if (device == Device::CPU) {
    static CpuAllocator cpu;
    return cpu;
  }
#if DIFFUSE_HAS_CUDA
  return cuda::device_allocator();
#else
  DIFFUSE_CHECK(false, "device '", device_name(device), "' is not available: this build has no CUDA support");
#endif
}

}  // namespace diffuse
