// The single-process communicator and the choice of this process's communicator.
#include "trainer/communicator.h"

#include "core/error.h"

#if DIFFUSE_HAS_MPI
#include "core/checks_mpi.h"
#include "trainer/communicator_mpi.h"
#include "trainer/communicator_nccl.h"
#endif

namespace diffuse {

void SingleProcessCommunicator::all_reduce(const Tensor& input, const Tensor& output, ReduceOp) {
  if (input.raw() != output.raw()) copy(input, output);
}

void SingleProcessCommunicator::all_gather(const Tensor& local, const Tensor& gathered) { copy(local, gathered); }

CollectiveHandle SingleProcessCommunicator::start_reduce_scatter(const Tensor& input, const Tensor& output,
                                                                 const std::vector<int64_t>& counts) {
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
