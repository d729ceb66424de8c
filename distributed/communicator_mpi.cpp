// MpiCommunicator: non-blocking MPI collectives, waited for under the watchdog.
#include "distributed/communicator_mpi.h"

#include <climits>
#include <thread>

#include "core/half.h"
#include "core/ops.h"
#include "distributed/checks_mpi.h"
#include "distributed/stop_signal_mask.h"

namespace diffuse {

namespace {

// Tests in a tight loop first (a collective often completes within
// microseconds), then sleeps a little between tests so a waiting rank leaves
// the cores to the ranks still computing.
constexpr int kSpinTests = 200;
constexpr auto kLongestPause = std::chrono::microseconds(200);
// How often the progress thread tests pending collectives: often enough to
// keep the transfers moving, rarely enough to cost the computing threads little.
constexpr auto kProgressPause = std::chrono::microseconds(100);

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return MPI_FLOAT;
    case DType::I32:
      return MPI_INT32_T;
    case DType::BF16:
    case DType::F16:
      return MPI_UINT16_T;  // moved; bf16 is also summed, by sum_bf16
  }
  return MPI_DATATYPE_NULL;
}

int mpi_count(int64_t count, const char* what) {
  DIFFUSE_CHECK(count >= 0 && count <= INT_MAX, what, " of ", count, " elements is larger than one MPI call takes (",
                INT_MAX, "); use smaller buffers (train.bucket_mb)");
  return static_cast<int>(count);
}

void check_host(const Tensor& tensor, const char* what) {
  DIFFUSE_CHECK(tensor.defined() && tensor.device() == Device::CPU, "the MPI communicator's ", what,
                " needs a host (CPU) tensor, got ", tensor.describe());
}

void check_reducible(const Tensor& tensor, const char* what) {
  check_host(tensor, what);
  DIFFUSE_CHECK(tensor.dtype() == DType::F32, "the MPI communicator's ", what, " reduces f32 tensors, got ",
                tensor.describe());
}

// inout[i] += in[i] for bf16 words: added in fp32, rounded to nearest even.
void sum_bf16(void* in, void* inout, int* length, MPI_Datatype* /*type*/) {
  const auto* addend = static_cast<const bf16*>(in);
  auto* sum = static_cast<bf16*>(inout);
  for (int i = 0; i < *length; ++i) sum[i] = float_to_bf16(bf16_to_float(sum[i]) + bf16_to_float(addend[i]));
}

std::vector<int> offsets_of(const std::vector<int>& counts) {
  std::vector<int> offsets(counts.size(), 0);
  int64_t offset = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    offsets[i] = mpi_count(offset, "an all-gather");
    offset += counts[i];
  }
  return offsets;
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, double timeout_seconds) : watchdog_(comm, timeout_seconds) {
  MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
  MPI_CHECK(MPI_Op_create(&sum_bf16, /*commute=*/1, &sum_bf16_));
  MPI_Comm node = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  MPI_CHECK(MPI_Comm_size(node, &local_size_));
  MPI_CHECK(MPI_Comm_free(&node));
  int level = MPI_THREAD_SINGLE;
  MPI_CHECK(MPI_Query_thread(&level));
  if (level >= MPI_THREAD_SERIALIZED && size_ > 1) {
    const StopSignalsBlocked blocked;  // the progress thread inherits the block
    progress_thread_ = std::thread([this] { progress_loop(); });
  }
}

MpiCommunicator::~MpiCommunicator() {
  if (progress_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_.notify_all();
    progress_thread_.join();
  }
  int finalized = 0;
  MPI_Finalized(&finalized);  // unchecked here and below: a destructor must not throw
  // After a failure collectives may still be pending; the job is ending, so leave them alone.
  if (!finalized && pending_.empty()) {
    MPI_Op_free(&sum_bf16_);
    MPI_Comm_free(&comm_);
  }
}

void MpiCommunicator::test_pending() {
  for (auto& entry : pending_) {
    int done = 0;
    MPI_CHECK(MPI_Test(&entry.second->request, &done, MPI_STATUS_IGNORE));
  }
}

void MpiCommunicator::progress_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (pending_.empty()) {
      work_.wait(lock);
      continue;
    }
    try {
      test_pending();
    } catch (const Error&) {
      // The waiting thread meets the same failure in its own MPI_Test and reports it.
    }
    lock.unlock();
    std::this_thread::sleep_for(kProgressPause);
    lock.lock();
  }
}

std::pair<CollectiveHandle, MpiCommunicator::Pending*> MpiCommunicator::begin(std::string description) {
  const CollectiveHandle handle = next_handle_++;
  auto pending = std::make_unique<Pending>();
  pending->record = watchdog_.arrive(std::move(description));
  Pending* raw = pending.get();
  pending_.emplace(handle, std::move(pending));
  return {handle, raw};
}

MPI_Op MpiCommunicator::sum_of(DType dtype) const { return dtype == DType::BF16 ? sum_bf16_ : MPI_SUM; }

CollectiveHandle MpiCommunicator::start_all_reduce(const Tensor& buffer, ReduceOp op) {
  check_host(buffer, "all_reduce");
  check_reduction_dtype(buffer, op, "the MPI communicator's all_reduce");
  const int count = mpi_count(buffer.numel(), "an all_reduce");
  const DType dtype = buffer.dtype();
  std::unique_lock<std::mutex> lock(mutex_);
  auto [handle, pending] = begin(concat("all_reduce of ", reduced_elements(count, dtype)));
  if (op == ReduceOp::kAverage) pending->average = buffer;
  MPI_CHECK(
      MPI_Iallreduce(MPI_IN_PLACE, buffer.raw(), count, mpi_type(dtype), sum_of(dtype), comm_, &pending->request));
  lock.unlock();
  work_.notify_one();
  return handle;
}

CollectiveHandle MpiCommunicator::start_reduce_scatter(const Tensor& input, const Tensor& output,
                                                       const std::vector<int64_t>& counts) {
  check_host(input, "reduce_scatter input");
  check_host(output, "reduce_scatter output");
  check_reduction_dtype(input, ReduceOp::kSum, "the MPI communicator's reduce_scatter");
  DIFFUSE_CHECK(output.dtype() == input.dtype(), "reduce_scatter: output ", output.describe(), " and input ",
                input.describe(), " differ in dtype");
  DIFFUSE_CHECK(static_cast<int>(counts.size()) == size_, "reduce_scatter needs one count per rank (", size_, "), got ",
                counts.size());
  int64_t total = 0;
  for (int64_t count : counts) total += count;
  DIFFUSE_CHECK(input.numel() == total && output.numel() == counts[static_cast<size_t>(rank_)],
                "reduce_scatter: input has ", input.numel(), " elements for counts summing to ", total, ", output has ",
                output.numel(), " for this rank's ", counts[static_cast<size_t>(rank_)]);
  std::vector<int> parts;
  for (int64_t count : counts) parts.push_back(mpi_count(count, "a reduce_scatter part"));
  std::unique_lock<std::mutex> lock(mutex_);
  const DType dtype = input.dtype();
  auto [handle, pending] = begin(concat("reduce_scatter of ", reduced_elements(total, dtype)));
  pending->counts = std::move(parts);
  MPI_CHECK(MPI_Ireduce_scatter(input.raw(), output.raw(), pending->counts.data(), mpi_type(dtype), sum_of(dtype),
                                comm_, &pending->request));
  lock.unlock();
  work_.notify_one();
  return handle;
}

void MpiCommunicator::progress() {
  std::lock_guard<std::mutex> lock(mutex_);
  test_pending();
}

void MpiCommunicator::wait(CollectiveHandle handle) {
  const auto found = pending_.find(handle);
  DIFFUSE_CHECK(found != pending_.end(), "wait() for collective handle ", handle, ", which is not pending");
  Pending& pending = *found->second;
  auto pause = std::chrono::microseconds(1);
  for (int tests = 0;; ++tests) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      int done = 0;
      MPI_CHECK(MPI_Test(&pending.request, &done, MPI_STATUS_IGNORE));
      if (done) break;
      watchdog_.check(pending.record);
    }
    if (tests >= kSpinTests) {
      std::this_thread::sleep_for(pause);
      pause = std::min(2 * pause, kLongestPause);
    }
  }
  if (pending.average.defined()) ops::scale(pending.average, 1.0f / static_cast<float>(size_), pending.average);
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.erase(found);
}

void MpiCommunicator::all_reduce(const Tensor& input, const Tensor& output, ReduceOp op) {
  check_reducible(input, "all_reduce input");
  check_reducible(output, "all_reduce output");
  DIFFUSE_CHECK(input.numel() == output.numel(), "all_reduce: input ", input.describe(), " and output ",
                output.describe(), " differ in size");
  if (input.raw() == output.raw()) {
    wait(start_all_reduce(output, op));
    return;
  }
  const int count = mpi_count(input.numel(), "an all_reduce");
  std::unique_lock<std::mutex> lock(mutex_);
  auto [handle, pending] = begin(concat("all_reduce of ", count, " floats"));
  if (op == ReduceOp::kAverage) pending->average = output;
  MPI_CHECK(MPI_Iallreduce(input.raw(), output.raw(), count, MPI_FLOAT, MPI_SUM, comm_, &pending->request));
  lock.unlock();
  wait(handle);
}

double MpiCommunicator::all_reduce(double value, ReduceOp op) {
  double total = value;
  std::unique_lock<std::mutex> lock(mutex_);
  auto [handle, pending] = begin("all_reduce of one number");
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, &total, 1, MPI_DOUBLE, MPI_SUM, comm_, &pending->request));
  lock.unlock();
  wait(handle);
  return op == ReduceOp::kAverage ? total / size_ : total;
}

void MpiCommunicator::broadcast(const Tensor& buffer, int root) {
  check_host(buffer, "broadcast");
  DIFFUSE_CHECK(root >= 0 && root < size_, "broadcast from rank ", root, " of ", size_);
  const int count = mpi_count(buffer.numel(), "a broadcast");
  std::unique_lock<std::mutex> lock(mutex_);
  auto [handle, pending] = begin(concat("broadcast of ", count, " ", dtype_name(buffer.dtype()), " from rank ", root));
  MPI_CHECK(MPI_Ibcast(buffer.raw(), count, mpi_type(buffer.dtype()), root, comm_, &pending->request));
  lock.unlock();
  wait(handle);
}

void MpiCommunicator::all_gather(const Tensor& local, const Tensor& gathered) {
  check_host(local, "all_gather input");
  check_host(gathered, "all_gather output");
  DIFFUSE_CHECK(local.dtype() == gathered.dtype() && gathered.numel() == local.numel() * size_, "all_gather: output ",
                gathered.describe(), " must hold ", size_, " x ", local.describe());
  const int count = mpi_count(local.numel(), "an all_gather");
  const MPI_Datatype type = mpi_type(local.dtype());
  std::unique_lock<std::mutex> lock(mutex_);
  auto [handle, pending] = begin(concat("all_gather of ", count, " ", dtype_name(local.dtype()), " per rank"));
  MPI_CHECK(MPI_Iallgather(local.raw(), count, type, gathered.raw(), count, type, comm_, &pending->request));
  lock.unlock();
  wait(handle);
}

void MpiCommunicator::all_gather_in_place(const Tensor& buffer, const std::vector<int64_t>& counts) {
  check_reducible(buffer, "all_gather_in_place");
  DIFFUSE_CHECK(static_cast<int>(counts.size()) == size_, "all_gather_in_place needs one count per rank (", size_,
                "), got ", counts.size());
  int64_t total = 0;
  for (int64_t count : counts) total += count;
  DIFFUSE_CHECK(buffer.numel() == total, "all_gather_in_place: buffer has ", buffer.numel(),
                " elements for counts summing to ", total);
  std::vector<int> parts;
  for (int64_t count : counts) parts.push_back(mpi_count(count, "an all_gather part"));
  std::vector<int> offsets = offsets_of(parts);
  std::unique_lock<std::mutex> lock(mutex_);
  auto [handle, pending] = begin(concat("all_gather of ", total, " floats"));
  pending->counts = std::move(parts);
  pending->displacements = std::move(offsets);
  MPI_CHECK(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer.raw(), pending->counts.data(),
                            pending->displacements.data(), MPI_FLOAT, comm_, &pending->request));
  lock.unlock();
  wait(handle);
}

void MpiCommunicator::barrier() {
  std::unique_lock<std::mutex> lock(mutex_);
  auto [handle, pending] = begin("barrier");
  MPI_CHECK(MPI_Ibarrier(comm_, &pending->request));
  lock.unlock();
  wait(handle);
}

}  // namespace diffuse
