// AdamW: one rank's optimizer state and the update that uses it.
//
// The state is the fp32 Adam moments m and v and one EMA buffer of the
// weights per rate. With ZeRO-1 sharding (train.shard_optimizer) each rank
// keeps the moments of its shard of the flat parameter buffer only
// (distributed/shard_layout.h): the gradient reducer reduce-scatters the summed
// gradients into shard_grads(), step() updates the shard and all-gathers the
// parameters, so every rank again holds the whole model and its EMA.
// Checkpoints always hold the whole moments: gather_moments() assembles them
// and load() keeps this rank's part, so a run resumes on any number of ranks.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "core/ops.h"
#include "core/tensor.h"
#include "distributed/communicator.h"
#include "distributed/shard_layout.h"

namespace diffuse {

class AdamW {
 public:
  // `params` and `grads` are the model's flat f32 buffers (model/parameters.h); the state lives on their device.
  // The moments start at zero and every EMA buffer at `params`, so build it once the parameters are set.
  // `shard_over`: the ranks the moments are sharded over (ZeRO-1); null keeps them whole, without collectives.
  AdamW(const Tensor& params, const Tensor& grads, const std::vector<double>& ema_rates,
        Communicator* shard_over = nullptr);

  bool sharded() const { return communicator_ != nullptr; }
  // How the flat buffer is split over the ranks: one shard on rank 0 unless sharded.
  const ShardLayout& shards() const { return shards_; }
  // f32 [shards().count(rank)]: where this rank's summed gradients go when sharded; undefined otherwise.
  const Tensor& shard_grads() const { return shard_grads_; }
  // The moments of this rank's shard: [shards().begin(rank), shards().end(rank)), the whole buffer unless sharded.
  const Tensor& m() const { return m_; }
  const Tensor& v() const { return v_; }
  // (rate, f32 [params]) in the order of the rates given.
  const std::vector<std::pair<double, Tensor>>& emas() const { return emas_; }

  // The step's decision on the device (ops::decide_step): the sum of squares of the whole summed gradient (when
  // sharded, the ranks' shard sums all-gathered and added in rank order, so every rank decides alike) updates
  // `state`, f32 [kStepStateFloats] on the parameters' device. Nothing is read to the host. Collective when sharded.
  void decide(const StepRule& rule, const Tensor& state) const;
  // One update with these hyperparameters (step 1-based; grad_scale multiplies the gradients first): AdamW on
  // this rank's shard, the parameters all-gathered when sharded, then every EMA. With `decision` (decide()'s
  // state) its gradient factor replaces grad_scale, and a skipped step leaves parameters, moments and EMA as they
  // are. Collective when sharded.
  void step(const ops::AdamWStep& hyperparameters, const Tensor& decision = Tensor());
  // Sets every EMA buffer to these weights.
  void reset_emas(const Tensor& weights);

  // The whole moments, e.g. for a checkpoint: gathered when sharded (collective; every rank gets them), the kept
  // buffers otherwise.
  struct Moments {
    Tensor m, v;
  };
  Moments gather_moments() const;
  // Takes the whole moments (this rank keeps its shard) and the EMA buffers, on any device. A buffer that is the
  // kept one itself is left as it is.
  void load(const Moments& whole, const std::vector<std::pair<double, Tensor>>& emas);

 private:
  Tensor params_;                         // the whole flat buffer
  Communicator* communicator_ = nullptr;  // the ranks of the shards; null: not sharded
  ShardLayout shards_;
  Tensor shard_grads_;  // f32 [shard], sharded only
  // What the update reads and writes: this rank's slice of the parameters and its gradients (the whole buffers
  // unless sharded), and their moments.
  Tensor update_params_, update_grads_;
  Tensor m_, v_;
  Tensor squares_;           // f32 [2]: this rank's sum of squares, a double
  Tensor gathered_squares_;  // f32 [2 x ranks]: every shard's, in rank order (sharded only)
  std::vector<std::pair<double, Tensor>> emas_;
};

}  // namespace diffuse
