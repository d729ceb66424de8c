// NcclCommunicator: NCCL collectives on device buffers, with MPI for set-up,
// host buffers and the timeout protocol (see communicator_nccl.h).
#include "distributed/communicator_nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "core/checks_cuda.h"
#include "core/cuda/context.h"
#include "core/cuda/runtime.h"
#include "distributed/collective_watchdog.h"
#include "distributed/communicator_mpi.h"
#include "distributed/gpu_for_rank.h"
#include "distributed/stop_signal_mask.h"

namespace diffuse {

namespace {

constexpr auto kPollPause = std::chrono::microseconds(20);

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return ncclFloat32;
    case DType::I32:
      return ncclInt32;
    case DType::BF16:
      return ncclBfloat16;
    case DType::F16:
      return ncclFloat16;
  }
  return ncclFloat32;
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::kAverage ? ncclAvg : ncclSum; }

// NCCL calls on a non-blocking communicator may answer "in progress"; the wait loops settle them.
void check_enqueued(ncclResult_t status, const char* call) {
  DIFFUSE_CHECK(status == ncclSuccess || status == ncclInProgress, "NCCL error: ", ncclGetErrorString(status), " in ",
                call);
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(MPI_Comm world, double timeout_seconds);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  const char* name() const override { return "nccl"; }
  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  int local_rank() const override { return host_.local_rank(); }
  int local_size() const override { return host_.local_size(); }

  void all_reduce(const Tensor& input, const Tensor& output, ReduceOp op) override;
  double all_reduce(double value, ReduceOp op) override { return host_.all_reduce(value, op); }
  void broadcast(const Tensor& buffer, int root) override;
  void all_gather(const Tensor& local, const Tensor& gathered) override;
  void all_gather_in_place(const Tensor& buffer, const std::vector<int64_t>& counts) override;
  void barrier() override { host_.barrier(); }

  CollectiveHandle start_all_reduce(const Tensor& buffer, ReduceOp op) override;
  CollectiveHandle start_reduce_scatter(const Tensor& input, const Tensor& output,
                                        const std::vector<int64_t>& counts) override;
  void progress() override {}  // NCCL progresses on the GPU by itself
  void wait(CollectiveHandle handle) override;

 private:
  struct Pending {
    cudaEvent_t done = nullptr;
    CollectiveWatchdog::Collective record;
  };

  static bool on_device(const Tensor& tensor) { return tensor.defined() && tensor.device() == Device::CUDA; }
  // Announces a device collective and orders the NCCL stream after the compute stream.
  CollectiveWatchdog::Collective enter(std::string description);
  // Records completion of the enqueued collective and registers it for wait().
  CollectiveHandle enqueued(CollectiveWatchdog::Collective record);
  // Polls until NCCL has no call "in progress"; throws (aborting NCCL) on an error or a timeout.
  void settle(const CollectiveWatchdog::Collective& record);
  [[noreturn]] void abort_and_fail(const std::string& message);
  void check_async_error();

  MpiCommunicator host_;
  CollectiveWatchdog watchdog_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;
  std::map<CollectiveHandle, Pending> pending_;
  CollectiveHandle next_handle_ = 1;
  bool aborted_ = false;
};

NcclCommunicator::NcclCommunicator(MPI_Comm world, double timeout_seconds)
    : host_(world, timeout_seconds), watchdog_(world, timeout_seconds) {
  DIFFUSE_CHECK(cuda::device_count() > 0, "NCCL needs a GPU on every rank: ", cuda::unavailable_reason());
  // The same GPU as the rank's compute (run/device_choice.cpp): one rule for both.
  cuda::set_device(gpu_for_rank(cuda::device_count(), host_.local_rank(), host_.local_size()));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));

  ncclUniqueId id{};
  if (host_.rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  static_assert(sizeof(ncclUniqueId) % sizeof(int32_t) == 0, "the NCCL id travels as int32 words");
  host_.broadcast(Tensor::view(&id, {static_cast<int64_t>(sizeof(id) / sizeof(int32_t))}, DType::I32), 0);

  // Non-blocking set-up: a rank that never arrives must not hang the others here either.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const CollectiveWatchdog::Collective record = watchdog_.arrive("NCCL communicator set-up");
  const StopSignalsBlocked blocked;  // NCCL's threads start during set-up and keep the block
  check_enqueued(ncclCommInitRankConfig(&comm_, host_.size(), id, host_.rank(), &config), "ncclCommInitRankConfig");
  settle(record);
}

NcclCommunicator::~NcclCommunicator() {
  // Collectives still pending mean a failure: abort rather than wait for the peers.
  if (comm_ != nullptr && !aborted_) {
    bool finalized = false;
    if (pending_.empty()) {
      ncclResult_t state = ncclCommFinalize(comm_);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (state == ncclInProgress && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(kPollPause);
        if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) break;
      }
      finalized = state == ncclSuccess;
      defer_failures([&] {
        DIFFUSE_CHECK(finalized, "NCCL error in ncclCommFinalize: ",
                      state == ncclInProgress ? "not done after 10 s" : ncclGetErrorString(state));
      });
    }
    // Unchecked: an abort follows a failure, reported where it happened or just above.
    if (finalized) {
      defer_failures([&] { NCCL_CHECK(ncclCommDestroy(comm_)); });
    } else {
      ncclCommAbort(comm_);
    }
  }
  // Failures here mean a broken GPU, reported at the next check (core/error.h).
  for (auto& entry : pending_) defer_failures([&] { CUDA_CHECK(cudaEventDestroy(entry.second.done)); });
  if (compute_ready_ != nullptr) defer_failures([&] { CUDA_CHECK(cudaEventDestroy(compute_ready_)); });
  if (stream_ != nullptr) defer_failures([&] { CUDA_CHECK(cudaStreamDestroy(stream_)); });
}

void NcclCommunicator::abort_and_fail(const std::string& message) {
  if (!aborted_) ncclCommAbort(comm_);
  aborted_ = true;
  DIFFUSE_CHECK(false, message);
}

void NcclCommunicator::check_async_error() {
  ncclResult_t state = ncclSuccess;
  NCCL_CHECK(ncclCommGetAsyncError(comm_, &state));
  if (state != ncclSuccess && state != ncclInProgress)
    abort_and_fail(concat("NCCL error: ", ncclGetErrorString(state), " (", ncclGetLastError(comm_), ")"));
}

void NcclCommunicator::settle(const CollectiveWatchdog::Collective& record) {
  for (;;) {
    ncclResult_t state = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(comm_, &state));
    if (state == ncclSuccess) return;
    if (state != ncclInProgress)
      abort_and_fail(concat("NCCL error in ", record.description, ": ", ncclGetErrorString(state)));
    try {
      watchdog_.check(record);
    } catch (const Error& error) {
      abort_and_fail(error.what());
    }
    std::this_thread::sleep_for(kPollPause);
  }
}

CollectiveWatchdog::Collective NcclCommunicator::enter(std::string description) {
  DIFFUSE_CHECK(!aborted_, "the NCCL communicator was aborted after an earlier failure");
  CUDA_CHECK(cudaEventRecord(compute_ready_, cuda::stream()));
  CUDA_CHECK(cudaStreamWaitEvent(stream_, compute_ready_, 0));
  return watchdog_.arrive(std::move(description));
}

CollectiveHandle NcclCommunicator::enqueued(CollectiveWatchdog::Collective record) {
  settle(record);
  Pending pending;
  pending.record = std::move(record);
  CUDA_CHECK(cudaEventCreateWithFlags(&pending.done, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventRecord(pending.done, stream_));
  const CollectiveHandle handle = next_handle_++;
  pending_.emplace(handle, std::move(pending));
  return handle;
}

void NcclCommunicator::wait(CollectiveHandle handle) {
  const auto found = pending_.find(handle);
  DIFFUSE_CHECK(found != pending_.end(), "wait() for collective handle ", handle, ", which is not pending");
  Pending& pending = found->second;
  for (;;) {
    const cudaError_t status = cudaEventQuery(pending.done);
    if (status == cudaSuccess) break;
    if (status != cudaErrorNotReady) CUDA_CHECK(status);
    check_async_error();
    try {
      watchdog_.check(pending.record);
    } catch (const Error& error) {
      abort_and_fail(error.what());
    }
    std::this_thread::sleep_for(kPollPause);
  }
  CUDA_CHECK(cudaEventDestroy(pending.done));
  pending_.erase(found);
}

CollectiveHandle NcclCommunicator::start_all_reduce(const Tensor& buffer, ReduceOp op) {
  DIFFUSE_CHECK(on_device(buffer), "the NCCL all_reduce takes device tensors, got ", buffer.describe());
  check_reduction_dtype(buffer, op, "the NCCL all_reduce");
  const size_t count = static_cast<size_t>(buffer.numel());
  auto record = enter(concat("all_reduce of ", reduced_elements(static_cast<int64_t>(count), buffer.dtype())));
  check_enqueued(
      ncclAllReduce(buffer.raw(), buffer.raw(), count, nccl_type(buffer.dtype()), nccl_op(op), comm_, stream_),
      "ncclAllReduce");
  return enqueued(std::move(record));
}

CollectiveHandle NcclCommunicator::start_reduce_scatter(const Tensor& input, const Tensor& output,
                                                        const std::vector<int64_t>& counts) {
  DIFFUSE_CHECK(on_device(input) && on_device(output) && input.dtype() == output.dtype(),
                "the NCCL reduce_scatter takes device tensors of one dtype, got ", input.describe(), " and ",
                output.describe());
  check_reduction_dtype(input, ReduceOp::kSum, "the NCCL reduce_scatter");
  DIFFUSE_CHECK(static_cast<int>(counts.size()) == size(), "reduce_scatter needs one count per rank");
  DIFFUSE_CHECK(output.numel() == counts[static_cast<size_t>(rank())], "reduce_scatter: output has ", output.numel(),
                " elements for this rank's ", counts[static_cast<size_t>(rank())]);
  int64_t total = 0;
  for (int64_t count : counts) total += count;
  DIFFUSE_CHECK(input.numel() == total, "reduce_scatter: input has ", input.numel(), " elements, counts sum to ",
                total);
  const DType dtype = input.dtype();
  auto record = enter(concat("reduce_scatter of ", reduced_elements(total, dtype)));
  // Parts may differ in size, which ncclReduceScatter does not allow: one reduce per owner, grouped.
  auto* source = static_cast<char*>(input.raw());
  const auto element_bytes = static_cast<int64_t>(dtype_size(dtype));
  check_enqueued(ncclGroupStart(), "ncclGroupStart");
  int64_t offset = 0;
  for (int owner = 0; owner < size(); ++owner) {
    const int64_t count = counts[static_cast<size_t>(owner)];
    if (count > 0) {
      char* part = source + offset * element_bytes;
      void* destination = owner == rank() ? output.raw() : part;
      check_enqueued(
          ncclReduce(part, destination, static_cast<size_t>(count), nccl_type(dtype), ncclSum, owner, comm_, stream_),
          "ncclReduce");
    }
    offset += count;
  }
  check_enqueued(ncclGroupEnd(), "ncclGroupEnd");
  return enqueued(std::move(record));
}

void NcclCommunicator::all_reduce(const Tensor& input, const Tensor& output, ReduceOp op) {
  if (!on_device(input) && !on_device(output)) return host_.all_reduce(input, output, op);
  DIFFUSE_CHECK(on_device(input) && on_device(output) && input.numel() == output.numel() &&
                    input.dtype() == DType::F32 && output.dtype() == DType::F32,
                "NCCL all_reduce: input ", input.describe(), " and output ", output.describe(),
                " must be f32 device tensors of one size");
  const size_t count = static_cast<size_t>(input.numel());
  auto record = enter(concat("all_reduce of ", count, " floats"));
  check_enqueued(ncclAllReduce(input.raw(), output.raw(), count, ncclFloat32, nccl_op(op), comm_, stream_),
                 "ncclAllReduce");
  wait(enqueued(std::move(record)));
}

void NcclCommunicator::broadcast(const Tensor& buffer, int root) {
  if (!on_device(buffer)) return host_.broadcast(buffer, root);
  DIFFUSE_CHECK(root >= 0 && root < size(), "broadcast from rank ", root, " of ", size());
  const size_t count = static_cast<size_t>(buffer.numel());
  auto record = enter(concat("broadcast of ", count, " ", dtype_name(buffer.dtype()), " from rank ", root));
  check_enqueued(ncclBroadcast(buffer.raw(), buffer.raw(), count, nccl_type(buffer.dtype()), root, comm_, stream_),
                 "ncclBroadcast");
  wait(enqueued(std::move(record)));
}

void NcclCommunicator::all_gather(const Tensor& local, const Tensor& gathered) {
  if (!on_device(local) && !on_device(gathered)) return host_.all_gather(local, gathered);
  DIFFUSE_CHECK(on_device(local) && on_device(gathered) && local.dtype() == gathered.dtype() &&
                    gathered.numel() == local.numel() * size(),
                "NCCL all_gather: output ", gathered.describe(), " must hold ", size(), " x ", local.describe(),
                " on the device");
  const size_t count = static_cast<size_t>(local.numel());
  auto record = enter(concat("all_gather of ", count, " ", dtype_name(local.dtype()), " per rank"));
  check_enqueued(ncclAllGather(local.raw(), gathered.raw(), count, nccl_type(local.dtype()), comm_, stream_),
                 "ncclAllGather");
  wait(enqueued(std::move(record)));
}

void NcclCommunicator::all_gather_in_place(const Tensor& buffer, const std::vector<int64_t>& counts) {
  if (!on_device(buffer)) return host_.all_gather_in_place(buffer, counts);
  DIFFUSE_CHECK(buffer.dtype() == DType::F32 && static_cast<int>(counts.size()) == size(),
                "NCCL all_gather_in_place takes an f32 buffer and one count per rank");
  int64_t total = 0;
  for (int64_t count : counts) total += count;
  DIFFUSE_CHECK(buffer.numel() == total, "all_gather_in_place: buffer has ", buffer.numel(),
                " elements, counts sum to ", total);
  auto record = enter(concat("all_gather of ", total, " floats"));
  // Parts may differ in size, which ncclAllGather does not allow: one in-place broadcast per owner, grouped.
  auto* data = static_cast<float*>(buffer.raw());
  check_enqueued(ncclGroupStart(), "ncclGroupStart");
  int64_t offset = 0;
  for (int owner = 0; owner < size(); ++owner) {
    const int64_t count = counts[static_cast<size_t>(owner)];
    if (count > 0)
      check_enqueued(
          ncclBroadcast(data + offset, data + offset, static_cast<size_t>(count), ncclFloat32, owner, comm_, stream_),
          "ncclBroadcast");
    offset += count;
  }
  check_enqueued(ncclGroupEnd(), "ncclGroupEnd");
  wait(enqueued(std::move(record)));
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm world, double timeout_seconds) {
  return std::make_unique<NcclCommunicator>(world, timeout_seconds);
}

}  // namespace diffuse
