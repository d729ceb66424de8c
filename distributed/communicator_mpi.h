// MpiCommunicator: the Communicator over MPI for host (CPU) buffers. Every
// collective is non-blocking underneath (MPI_Iallreduce, MPI_Ibcast, ...) and
// waited for by polling MPI_Test against the CollectiveWatchdog, so a rank
// that never arrives ends the job with a message instead of a hang. Only
// compiled when DIFFUSE_HAS_MPI.
//
// MPI moves the data of a non-blocking collective only inside MPI calls. So
// that gradient buckets really travel while backward computes, a progress
// thread tests the started collectives every ~100 us while any is pending
// (and sleeps otherwise). It needs MPI_THREAD_SERIALIZED: one mutex orders
// every MPI call of the communicator and its watchdog. With a lower thread
// level the communicator progresses only in progress() and wait().
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "distributed/collective_watchdog.h"
#include "distributed/communicator.h"

namespace diffuse {

class MpiCommunicator final : public Communicator {
 public:
  // Works on a duplicate of `comm` (MPI_COMM_WORLD in the CLI) with MPI_ERRORS_RETURN.
  MpiCommunicator(MPI_Comm comm, double timeout_seconds);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  const char* name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  void all_reduce(const Tensor& input, const Tensor& output, ReduceOp op) override;
  double all_reduce(double value, ReduceOp op) override;
  void broadcast(const Tensor& buffer, int root) override;
  void all_gather(const Tensor& local, const Tensor& gathered) override;
  void all_gather_in_place(const Tensor& buffer, const std::vector<int64_t>& counts) override;
  void barrier() override;

  CollectiveHandle start_all_reduce(const Tensor& buffer, ReduceOp op) override;
  CollectiveHandle start_reduce_scatter(const Tensor& input, const Tensor& output,
                                        const std::vector<int64_t>& counts) override;
  void progress() override;
  void wait(CollectiveHandle handle) override;

 private:
  // One started collective. Heap-allocated: MPI keeps pointers to the count arrays until it completes.
  struct Pending {
    MPI_Request request = MPI_REQUEST_NULL;
    CollectiveWatchdog::Collective record;
    std::vector<int> counts;
    std::vector<int> displacements;
    Tensor average;  // divided by the rank count once complete (ReduceOp::kAverage)
  };

  // Registers a collective under a new handle and announces it to the watchdog. Call with mutex_ held.
  std::pair<CollectiveHandle, Pending*> begin(std::string description);
  // MPI_SUM, or sum_bf16_ for bf16 words.
  MPI_Op sum_of(DType dtype) const;
  // Tests every pending collective once. Call with mutex_ held.
  void test_pending();
  void progress_loop();

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Op sum_bf16_ = MPI_OP_NULL;  // MPI has no bf16 type: uint16 words summed by our own function
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  CollectiveWatchdog watchdog_;
  std::map<CollectiveHandle, std::unique_ptr<Pending>> pending_;
  CollectiveHandle next_handle_ = 1;

  std::mutex mutex_;  // every MPI call, pending_ and stopping_
  std::condition_variable work_;
  bool stopping_ = false;
  std::thread progress_thread_;  // not started below MPI_THREAD_SERIALIZED
};

}  // namespace diffuse
