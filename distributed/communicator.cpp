// The single-process communicator and the choice of this process's communicator.
#include "distributed/communicator.h"

#include "core/error.h"

#if DIFFUSE_HAS_MPI
#include "distributed/checks_mpi.h"
#include "distributed/communicator_mpi.h"
#include "distributed/communicator_nccl.h"
#endif

namespace diffuse {

void SingleProcessCommunicator::all_reduce(const Tensor& input, const Tensor& output, ReduceOp) {
  if (input.raw() != output.raw()) copy(input, output);
}

void SingleProcessCommunicator::all_gather(const Tensor& local, const Tensor& gathered) { copy(local, gathered); }

void check_reduction_dtype(const Tensor& buffer, ReduceOp op, const char* what) {
  DIFFUSE_CHECK(buffer.dtype() == DType::F32 || (buffer.dtype() == DType::BF16 && op == ReduceOp::kSum), what,
                " reduces f32 tensors, or sums bf16 ones; got ", buffer.describe(),
                op == ReduceOp::kAverage ? " to average" : "");
}

std::string reduced_elements(int64_t count, DType dtype) {
  return concat(count, dtype == DType::F32 ? " floats" : " bf16 values");
}

CollectiveHandle SingleProcessCommunicator::start_all_reduce(const Tensor& buffer, ReduceOp op) {
  check_reduction_dtype(buffer, op, "all_reduce");
  return 0;
}

CollectiveHandle SingleProcessCommunicator::start_reduce_scatter(const Tensor& input, const Tensor& output,
                                                                 const std::vector<int64_t>& counts) {
  check_reduction_dtype(input, ReduceOp::kSum, "reduce_scatter");
  DIFFUSE_CHECK(counts.size() == 1 && counts[0] == input.numel(), "reduce_scatter on one rank needs counts {",
                input.numel(), "}");
  if (input.raw() != output.raw()) copy(input.reshape(output.shape()), output);
  return 0;
}

std::unique_ptr<Communicator> make_world_communicator(Device device, double timeout_seconds) {
#if DIFFUSE_HAS_MPI
  int initialized = 0;
  MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) {
    int size = 1;
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    if (size > 1) {
#if DIFFUSE_HAS_CUDA
      if (device == Device::CUDA) return make_nccl_communicator(MPI_COMM_WORLD, timeout_seconds);
#endif
      DIFFUSE_CHECK(device == Device::CPU, "this build has no NCCL communicator for ", device_name(device), " buffers");
      return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, timeout_seconds);
    }
  }
#else
  (void)timeout_seconds;
#endif
  (void)device;
  return std::make_unique<SingleProcessCommunicator>();
}

}  // namespace diffuse
