#include "trainer/warm_up.h"

#include <chrono>

namespace diffuse {

double warm_up(model::ParameterStore& store, Communicator& communicator,
               const std::function<void()>& forward_backward) {
  const auto start = std::chrono::steady_clock::now();
  forward_backward();
  store.zero_grads();
  // Through the non-blocking path, as the gradient buckets will go.
  const Tensor one = Tensor::zeros({1}, DType::F32, store.grads().device());
  communicator.wait(communicator.start_all_reduce(one, ReduceOp::kSum));
  to_vector(one);  // read on the host: the device has finished everything queued before it
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace diffuse
