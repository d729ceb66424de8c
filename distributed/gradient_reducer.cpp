// GradientReducer: buckets from the end of the gradient buffer, started from
// the gradient-ready hook during backward, waited for in finish().
#include "distributed/gradient_reducer.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "core/ops.h"

namespace diffuse {

std::vector<GradientBucket> make_gradient_buckets(const model::ParameterStore& store, int64_t bucket_bytes) {
  DIFFUSE_CHECK(bucket_bytes > 0, "gradient buckets need a positive size, got ", bucket_bytes, " bytes");
  std::vector<GradientBucket> buckets;
  int64_t bytes = 0;
  for (int64_t index = store.count() - 1; index >= 0; --index) {
    const model::Parameter& parameter = store.at(index);
    const int64_t parameter_bytes = shape_numel(parameter.shape) * static_cast<int64_t>(sizeof(float));
    if (buckets.empty() || bytes + parameter_bytes > bucket_bytes) {
      GradientBucket bucket;
      bucket.end = parameter.offset + shape_numel(parameter.shape);
      bucket.last_parameter = index;
      buckets.push_back(bucket);
      bytes = 0;
    }
    buckets.back().begin = parameter.offset;
    buckets.back().first_parameter = index;
    bytes += parameter_bytes;
  }
  return buckets;
}

namespace {
int64_t mebibytes_to_bytes(double mebibytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(mebibytes * 1048576.0));
}
}  // namespace

GradientReducer::GradientReducer(model::ParameterStore& store, Communicator& communicator, double bucket_mb, DType wire)
    : store_(store), communicator_(communicator) {
  DIFFUSE_CHECK(store.finalized(), "the gradient reducer needs a finalized parameter store");
  DIFFUSE_CHECK(wire == DType::F32 || wire == DType::BF16, "gradients are reduced in f32 or bf16, not ",
                dtype_name(wire));
  if (wire == DType::BF16) wire_ = Tensor::empty({store.numel()}, DType::BF16, store.grads().device());
  buckets_ = make_gradient_buckets(store, mebibytes_to_bytes(bucket_mb));
  bucket_of_parameter_.resize(static_cast<size_t>(store.count()));
  for (size_t bucket = 0; bucket < buckets_.size(); ++bucket)
    for (int64_t index = buckets_[bucket].first_parameter; index <= buckets_[bucket].last_parameter; ++index)
      bucket_of_parameter_[static_cast<size_t>(index)] = bucket;
  store_.set_gradient_ready_hook([this](const model::Parameter& parameter) { on_gradient_ready(parameter); });
}

GradientReducer::GradientReducer(model::ParameterStore& store, Communicator& communicator, double bucket_mb,
                                 const ShardLayout& shards, const Tensor& shard_gradients, DType wire)
    : GradientReducer(store, communicator, bucket_mb, wire) {
  DIFFUSE_CHECK(shards.numel == store.numel() && shards.ranks == communicator.size(),
                "the optimizer shards must cover the ", store.numel(), " gradients over ", communicator.size(),
                " ranks");
  DIFFUSE_CHECK(shard_gradients.numel() == shards.count(communicator.rank()), "this rank's gradient shard needs ",
                shards.count(communicator.rank()), " elements, got ", shard_gradients.describe());
  scatter_ = true;
  shards_ = shards;
  shard_gradients_ = shard_gradients.reshape({shard_gradients.numel()});
  if (wire_.defined()) wire_shard_ = Tensor::empty({shard_gradients.numel()}, DType::BF16, shard_gradients.device());
}

GradientReducer::~GradientReducer() { store_.set_gradient_ready_hook({}); }

void GradientReducer::arm() {
  DIFFUSE_CHECK(!armed_, "the gradient reducer is armed twice without finish()");
  waiting_parameters_.clear();
  for (const GradientBucket& bucket : buckets_)
    waiting_parameters_.push_back(bucket.last_parameter - bucket.first_parameter + 1);
  reported_.assign(bucket_of_parameter_.size(), false);
  next_bucket_ = 0;
  handles_.clear();
  arrivals_.clear();
  armed_ = true;
}

void GradientReducer::on_gradient_ready(const model::Parameter& parameter) {
  if (!armed_) return;  // an intermediate micro-step: gradients keep accumulating locally
  const auto index = static_cast<size_t>(parameter.index);
  DIFFUSE_CHECK(!reported_[index], "parameter '", parameter.name,
                "' reported its gradient final twice in one backward pass");
  reported_[index] = true;
  --waiting_parameters_[bucket_of_parameter_[index]];
  start_ready_buckets();
  communicator_.progress();
}

void GradientReducer::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() && waiting_parameters_[next_bucket_] == 0) start(next_bucket_++);
}

void GradientReducer::start(size_t index) {
  const GradientBucket& bucket = buckets_[index];
  const Tensor gradients = store_.grads().slice(bucket.begin, bucket.end);
  const Tensor sent = wire_.defined() ? wire_.slice(bucket.begin, bucket.end) : gradients;
  if (wire_.defined()) ops::cast(gradients, sent);
  ++reductions_started_;
  if (!scatter_) {
    handles_.push_back(communicator_.start_all_reduce(sent, ReduceOp::kSum));
    arrivals_.emplace_back(sent, gradients);
    return;
  }
  // Each rank receives the part of the bucket that lies in its shard.
  std::vector<int64_t> counts;
  for (int rank = 0; rank < shards_.ranks; ++rank)
    counts.push_back(
        std::max<int64_t>(0, std::min(bucket.end, shards_.end(rank)) - std::max(bucket.begin, shards_.begin(rank))));
  const int me = communicator_.rank();
  const int64_t first = std::clamp(bucket.begin, shards_.begin(me), shards_.end(me)) - shards_.begin(me);
  const int64_t end = first + counts[static_cast<size_t>(me)];
  const Tensor mine = shard_gradients_.slice(first, end);
  const Tensor received = wire_shard_.defined() ? wire_shard_.slice(first, end) : mine;
  handles_.push_back(communicator_.start_reduce_scatter(sent, received, counts));
  arrivals_.emplace_back(received, mine);
}

double GradientReducer::finish() {
  DIFFUSE_CHECK(armed_, "gradient reducer finish() without arm()");
  const auto start_time = std::chrono::steady_clock::now();
  while (next_bucket_ < buckets_.size()) start(next_bucket_++);
  for (size_t i = 0; i < handles_.size(); ++i) {
    communicator_.wait(handles_[i]);
    const auto& [received, gradients] = arrivals_[i];
    if (received.raw() != gradients.raw() && received.numel() > 0) ops::cast(received, gradients);
  }
  handles_.clear();
  arrivals_.clear();
  armed_ = false;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
}

}  // namespace diffuse
