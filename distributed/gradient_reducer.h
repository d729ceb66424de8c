// GradientReducer: sums the gradient buffer over ranks in buckets, overlapped
// with backward.
//
// Buckets are contiguous ranges of the flat gradient buffer holding whole
// parameters, about train.bucket_mb MiB each, cut from the END of the buffer:
// the buffer is in forward order, so its end is what backward finishes first.
// While armed, the store's gradient-ready hook counts each bucket's parameters
// down; when a bucket's last gradient is final its reduction starts at once
// (in bucket order, so every rank issues the same collectives in the same
// order), and every hook call lets the started reductions progress. finish()
// starts whatever is left (a layer that never reports costs overlap, not
// correctness) and waits for everything.
//
// Two modes: all-reduce (every rank receives the whole summed gradient) and
// reduce-scatter for ZeRO-1 (each rank receives only the sums of its shard of
// the buffer, in a separate shard-sized tensor).
//
// Gradients travel as fp32, or as bf16 (train.reduce_dtype) to halve the bytes
// on bandwidth-bound links: each bucket is rounded into a bf16 copy when it
// starts, summed in bf16 (fp32 adds, rounded at each combining step), and
// widened back into the fp32 gradients once it arrives. The optimizer still
// sees fp32 buffers; each sum keeps bf16's 8 significant bits (2 to 3 decimal
// digits, against fp32's 7). train.bucket_mb counts fp32 bytes, so a bucket on
// the wire is half that size.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/shard_layout.h"
#include "model/parameters.h"

namespace diffuse {

struct GradientBucket {
  int64_t begin = 0;            // first element in the gradient buffer
  int64_t end = 0;              // one past the last
  int64_t first_parameter = 0;  // parameter indices [first_parameter, last_parameter]
  int64_t last_parameter = 0;
};

// Cuts the store's buffer into buckets of at least one parameter and, unless a
// single parameter is larger, at most `bucket_bytes` bytes; bucket 0 ends the buffer.
std::vector<GradientBucket> make_gradient_buckets(const model::ParameterStore& store, int64_t bucket_bytes);

class GradientReducer {
 public:
  // All-reduce mode: sums store.grads() in place. `wire` is F32 or BF16.
  GradientReducer(model::ParameterStore& store, Communicator& communicator, double bucket_mb, DType wire = DType::F32);
  // Reduce-scatter mode: `shard_gradients` [shards.count(rank)] receives this rank's shard of the sum.
  GradientReducer(model::ParameterStore& store, Communicator& communicator, double bucket_mb, const ShardLayout& shards,
                  const Tensor& shard_gradients, DType wire = DType::F32);
  ~GradientReducer();  // removes the hook
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward completes this step's gradients: reduce them as they become final.
  void arm();
  // After that backward: starts the remaining buckets and waits for all of
  // them. Returns the seconds it waited (the communication backward did not hide).
  double finish();

  const std::vector<GradientBucket>& buckets() const { return buckets_; }
  bool sends_bf16() const { return wire_.defined(); }
  int64_t reductions_started() const { return reductions_started_; }  // over the reducer's life

 private:
  void on_gradient_ready(const model::Parameter& parameter);
  void start_ready_buckets();
  void start(size_t bucket);

  model::ParameterStore& store_;
  Communicator& communicator_;
  std::vector<GradientBucket> buckets_;
  std::vector<size_t> bucket_of_parameter_;
  bool scatter_ = false;
  ShardLayout shards_;
  Tensor shard_gradients_;
  // bf16 on the wire only (undefined for fp32):
  Tensor wire_;        // bf16 [store.numel()]: the buckets as sent
  Tensor wire_shard_;  // bf16 [shards.count(rank)]: this rank's sums as received (reduce-scatter mode)

  // State of the current armed backward.
  bool armed_ = false;
  std::vector<int64_t> waiting_parameters_;  // per bucket: parameters not yet reported
  std::vector<bool> reported_;               // per parameter
  size_t next_bucket_ = 0;                   // buckets [0, next_bucket_) are started
  std::vector<CollectiveHandle> handles_;
  // Per started collective: where its sums arrive and, when they arrive in
  // bf16, the fp32 gradients they are widened into (else the same tensor).
  std::vector<std::pair<Tensor, Tensor>> arrivals_;
  int64_t reductions_started_ = 0;
};

}  // namespace diffuse
