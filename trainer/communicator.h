// Communicator: how ranks combine gradients and agree on state. Training
// code talks only to this interface; the single-process implementation is
// what a one-rank run uses (MPI and NCCL implementations plug in the same way).
#pragma once

#include <memory>

#include "core/tensor.h"

namespace diffuse {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In-place sum over ranks of a flat fp32 buffer.
  virtual void all_reduce_sum(const Tensor& buffer) = 0;
  // Sum over ranks of one number (losses for logging).
  virtual double all_reduce_sum(double value) = 0;
  // Rank `root`'s buffer onto every rank.
  virtual void broadcast(const Tensor& buffer, int root) = 0;
  // Every rank's `local` [n,...] concatenated in rank order into `gathered` [size*n,...].
  virtual void all_gather(const Tensor& local, const Tensor& gathered) = 0;
  virtual void barrier() = 0;
};

// One process: every collective is the identity.
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(const Tensor&) override {}
  double all_reduce_sum(double value) override { return value; }
  void broadcast(const Tensor&, int) override {}
  void all_gather(const Tensor& local, const Tensor& gathered) override { copy(local, gathered); }
  void barrier() override {}
};

}  // namespace diffuse
