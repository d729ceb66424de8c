// Communicator: how ranks combine gradients and agree on state. Training
// code talks only to this interface. Three implementations:
//   SingleProcessCommunicator  one process; every collective is (almost) the identity
//   MPI (communicator_mpi.h)   host buffers, the CPU backend
//   NCCL (communicator_nccl.h) device buffers, the CUDA backend
// Every rank must call the same collectives in the same order. None of them
// waits forever: after runtime.collective_timeout_s each rank ends with an
// Error naming the operation and the ranks that did not arrive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace diffuse {

enum class ReduceOp { kSum, kAverage };

// A collective that was started and has not been waited for.
using CollectiveHandle = int64_t;

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* name() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank among the ranks on this node, and how many there are: MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), the same
  // with every launcher (its LOCAL_RANK variables are not read).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;

  // ---- blocking collectives ----
  // output = op over ranks of input (f32, same shape). output may be input (in place).
  virtual void all_reduce(const Tensor& input, const Tensor& output, ReduceOp op) = 0;
  // One number over ranks (losses for logging, flags, norms).
  virtual double all_reduce(double value, ReduceOp op) = 0;
  // Rank `root`'s buffer onto every rank (any dtype).
  virtual void broadcast(const Tensor& buffer, int root) = 0;
  // Every rank's `local` [n,...] concatenated in rank order into `gathered` [size*n,...] (any dtype).
  virtual void all_gather(const Tensor& local, const Tensor& gathered) = 0;
  // buffer (f32, flat) is split into consecutive parts of counts[r] elements; each rank
  // contributes its own part in place, and afterwards every rank holds every part.
  virtual void all_gather_in_place(const Tensor& buffer, const std::vector<int64_t>& counts) = 0;
  virtual void barrier() = 0;

  // ---- non-blocking collectives (gradient buckets overlapping backward) ----
  // The buffers must stay untouched until wait(handle) returns. They are f32,
  // or bf16 (train.reduce_dtype) to halve the bytes on the wire: bf16 buffers
  // are summed only (ReduceOp::kSum), each combining step adding in fp32 and
  // rounding to bf16, as NCCL does.
  // In-place all-reduce.
  virtual CollectiveHandle start_all_reduce(const Tensor& buffer, ReduceOp op) = 0;
  // input (flat, sum of counts elements) is summed over ranks; this rank receives
  // its part, counts[rank] elements starting at the sum of the counts before it,
  // in output (of input's dtype).
  virtual CollectiveHandle start_reduce_scatter(const Tensor& input, const Tensor& output,
                                                const std::vector<int64_t>& counts) = 0;
  // Lets started collectives advance (MPI moves data only inside its calls). Cheap.
  virtual void progress() = 0;
  virtual void wait(CollectiveHandle handle) = 0;

  // Conveniences.
  void all_reduce_sum(const Tensor& buffer) { all_reduce(buffer, buffer, ReduceOp::kSum); }
  double all_reduce_sum(double value) { return all_reduce(value, ReduceOp::kSum); }
};

// One process: collectives copy where input and output differ, otherwise do nothing.
class SingleProcessCommunicator final : public Communicator {
 public:
  const char* name() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void all_reduce(const Tensor& input, const Tensor& output, ReduceOp op) override;
  double all_reduce(double value, ReduceOp) override { return value; }
  void broadcast(const Tensor&, int) override {}
  void all_gather(const Tensor& local, const Tensor& gathered) override;
  void all_gather_in_place(const Tensor&, const std::vector<int64_t>&) override {}
  void barrier() override {}
  CollectiveHandle start_all_reduce(const Tensor& buffer, ReduceOp op) override;
  CollectiveHandle start_reduce_scatter(const Tensor& input, const Tensor& output,
                                        const std::vector<int64_t>& counts) override;
  void progress() override {}
  void wait(CollectiveHandle) override {}
};

// The communicator of this process: MPI when MPI was initialised with more
// than one rank (NCCL instead for `device` CUDA), the single-process one otherwise.
std::unique_ptr<Communicator> make_world_communicator(Device device, double timeout_seconds);

// Checks what the non-blocking collectives take: f32, or bf16 with kSum.
void check_reduction_dtype(const Tensor& buffer, ReduceOp op, const char* what);
// "1000 floats", "1000 bf16 values": how a reduction is named to the watchdog.
std::string reduced_elements(int64_t count, DType dtype);

}  // namespace diffuse
