#include "core/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>

#include "core/error.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse {

namespace {

// 64-byte alignment: a cache line and a full AVX-512 vector.
constexpr size_t kCpuAlignment = 64;
// Blocks at least this large are kept for reuse when freed (see CpuAllocator).
constexpr size_t kCachedBytes = size_t{1} << 20;

size_t rounded_size(size_t bytes) {
  const size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  return rounded == 0 ? kCpuAlignment : rounded;
}

// Large blocks go back to a cache keyed by their exact size instead of to the
// C library. Layers allocate their outputs and gradients afresh in every pass
// and release them as soon as they are consumed; every step asks for the same
// sizes again, so they come back from the cache without the page faults (and
// zeroing) a fresh mapping costs. When the sizes change (sampling or
// evaluation between training steps) a request misses while the cache holds
// more than the tensors in use; the cache is then emptied, so memory follows
// the largest phase rather than the sum of all phases. The benches' "tensors
// peak" counts tensors in use; the process's resident size includes the cache.
class CpuAllocator final : public Allocator {
 public:
  void release_cached() override {
    const std::lock_guard<std::mutex> lock(mutex_);
    empty_cache();
  }

 protected:
  void* raw_allocate(size_t bytes) override {
    const size_t size = rounded_size(bytes);
    if (size >= kCachedBytes) {
      const std::lock_guard<std::mutex> lock(mutex_);
      const auto cached = cache_.find(size);
      if (cached != cache_.end()) {
        void* pointer = cached->second;
        cache_.erase(cached);
        cached_bytes_ -= static_cast<int64_t>(size);
        return pointer;
      }
      if (cached_bytes_ > bytes_in_use()) empty_cache();
    }
    void* pointer = std::aligned_alloc(kCpuAlignment, size);
    if (pointer == nullptr) {  // give the cache back and try once more
      const std::lock_guard<std::mutex> lock(mutex_);
      empty_cache();
      pointer = std::aligned_alloc(kCpuAlignment, size);
    }
    DIFFUSE_CHECK(pointer != nullptr, "out of host memory allocating ", bytes, " bytes");
    return pointer;
  }
  void raw_deallocate(void* pointer, size_t bytes) override {
    const size_t size = rounded_size(bytes);
    if (size < kCachedBytes) return std::free(pointer);
    const std::lock_guard<std::mutex> lock(mutex_);
    cache_.emplace(size, pointer);
    cached_bytes_ += static_cast<int64_t>(size);
  }

 private:
  void empty_cache() {  // with mutex_ held
    for (const auto& [size, pointer] : cache_) std::free(pointer);
    cache_.clear();
    cached_bytes_ = 0;
  }

  std::mutex mutex_;  // tensors are also allocated and freed on the data loader thread
  std::unordered_multimap<size_t, void*> cache_;
  int64_t cached_bytes_ = 0;
};

}  // namespace

void* Allocator::allocate(size_t bytes) {
  throw_deferred_fault();
  void* pointer = raw_allocate(bytes);
  const int64_t now = in_use_.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes);
  int64_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
  return pointer;
}

void Allocator::deallocate(void* pointer, size_t bytes) noexcept {
  if (pointer == nullptr) return;
  defer_failures([&] { raw_deallocate(pointer, bytes); });
  in_use_.fetch_sub(static_cast<int64_t>(bytes));
}

Allocator& allocator_for(Device device) {
  if (device == Device::CPU) {
    // Never destroyed: tensors in static storage may be freed after any other static.
    static CpuAllocator* cpu = new CpuAllocator();
    return *cpu;
  }
#if DIFFUSE_HAS_CUDA
  return cuda::device_allocator();
#else
  DIFFUSE_CHECK(false, "device '", device_name(device), "' is not available: this build has no CUDA support");
#endif
}

}  // namespace diffuse
