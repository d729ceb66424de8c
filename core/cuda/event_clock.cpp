#include "core/cuda/event_clock.h"

#include <cuda_runtime.h>

#include <vector>

#include "core/checks_cuda.h"
#include "core/cuda/context.h"

namespace diffuse::cuda {

namespace {

class EventClock final : public DeviceClock {
 public:
  int64_t mark() override {
    if (used_ == events_.size()) {
      cudaEvent_t event = nullptr;
      CUDA_CHECK(cudaEventCreate(&event));
      events_.push_back(event);
    }
    CUDA_CHECK(cudaEventRecord(events_[used_], stream()));
    return static_cast<int64_t>(used_++);
  }

  // Every mark is on the one stream: once the last has passed, so have all.
  void wait() override {
    if (used_ > 0) CUDA_CHECK(cudaEventSynchronize(events_[used_ - 1]));
  }

  double seconds_between(int64_t start, int64_t end) override {
    float milliseconds = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&milliseconds, events_.at(start), events_.at(end)));
    return milliseconds / 1e3;
  }

  void recycle() override { used_ = 0; }

 private:
  std::vector<cudaEvent_t> events_;  // never destroyed: they live as long as the process
  size_t used_ = 0;
};

}  // namespace

DeviceClock& event_clock() {
  static EventClock* clock = new EventClock;  // never destroyed: no CUDA call may run after the runtime shut down
  return *clock;
}

}  // namespace diffuse::cuda
