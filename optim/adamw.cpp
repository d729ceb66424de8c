#include "optim/adamw.h"

namespace diffuse {

AdamW::AdamW(const Tensor& params, const Tensor& grads, const std::vector<double>& ema_rates, Communicator* shard_over)
    : params_(params), communicator_(shard_over) {
  DIFFUSE_CHECK(params.dtype() == DType::F32 && grads.dtype() == DType::F32 && params.shape() == grads.shape() &&
                    params.rank() == 1,
                "AdamW needs flat f32 parameters and gradients of one shape, got ", params.describe(), " and ",
                grads.describe());
  const Device device = params.device();
  shards_ = ShardLayout{params.numel(), sharded() ? communicator_->size() : 1};
  if (sharded()) {
    const int rank = communicator_->rank();
    shard_grads_ = Tensor::zeros({shards_.count(rank)}, DType::F32, device);
    update_params_ = params.slice(shards_.begin(rank), shards_.end(rank));
    update_grads_ = shard_grads_;
  } else {
    update_params_ = params;
    update_grads_ = grads;
  }
  squares_ = Tensor::empty({2}, DType::F32, device);
  if (sharded()) gathered_squares_ = Tensor::empty({2 * shards_.ranks}, DType::F32, device);
  m_ = Tensor::zeros({update_params_.numel()}, DType::F32, device);
  v_ = Tensor::zeros({update_params_.numel()}, DType::F32, device);
  for (double rate : ema_rates) {
    Tensor buffer = Tensor::empty({params.numel()}, DType::F32, device);
    copy(params, buffer);
    emas_.emplace_back(rate, buffer);
  }
}

void AdamW::decide(const StepRule& rule, const Tensor& state) const {
  ops::sum_of_squares(update_grads_, squares_);
  if (!sharded()) return ops::decide_step(squares_, rule, state);
  communicator_->all_gather(squares_, gathered_squares_);
  ops::decide_step(gathered_squares_, rule, state);
}

void AdamW::step(const ops::AdamWStep& hyperparameters, const Tensor& decision) {
  ops::adamw_update(update_params_, update_grads_, m_, v_, hyperparameters, decision);
  if (sharded()) communicator_->all_gather_in_place(params_, shards_.counts());
  for (auto& [rate, buffer] : emas_) ops::ema_update(buffer, params_, static_cast<float>(rate), decision);
}

void AdamW::reset_emas(const Tensor& weights) {
  for (auto& [rate, buffer] : emas_) copy(weights, buffer);
}

AdamW::Moments AdamW::gather_moments() const {
  if (!sharded()) return {m_, v_};
  const int rank = communicator_->rank();
  const auto gather = [&](const Tensor& shard) {
    Tensor whole = Tensor::empty({shards_.numel}, DType::F32, shard.device());
    copy(shard, whole.slice(shards_.begin(rank), shards_.end(rank)));
    communicator_->all_gather_in_place(whole, shards_.counts());
    return whole;
  };
  return {gather(m_), gather(v_)};
}

void AdamW::load(const Moments& whole, const std::vector<std::pair<double, Tensor>>& emas) {
  DIFFUSE_CHECK(emas.size() == emas_.size(), "AdamW::load got ", emas.size(), " EMA buffers for ", emas_.size(),
                " rates");
  const int rank = sharded() ? communicator_->rank() : 0;
  const auto keep = [](const Tensor& read, const Tensor& kept) {
    if (read.raw() != kept.raw()) copy(read, kept);
  };
  keep(whole.m.slice(shards_.begin(rank), shards_.end(rank)), m_);
  keep(whole.v.slice(shards_.begin(rank), shards_.end(rank)), v_);
  for (size_t i = 0; i < emas_.size(); ++i) keep(emas[i].second, emas_[i].second);
}

}  // namespace diffuse
