// Backend: the interface each device implements (core/cpu, core/cuda). Its
// methods mirror core/ops.h one to one; ops.cpp validates the arguments once
// for every backend and then calls the backend of the tensors' device, so an
// implementation may assume shapes, dtypes and devices are consistent.
#pragma once

#include "core/ops.h"

namespace diffuse {

using ops::AdamWStep;
using ops::Conv2dWindow;
using ops::Dropout;
using ops::DropoutKey;
using ops::Pool2dWindow;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  virtual void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                              const Tensor& y, const Conv2dWindow& window) = 0;
  virtual void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                               const Tensor& dweight, const Tensor& dbias, const Conv2dWindow& window) = 0;
  virtual void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) = 0;
  virtual void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                               const Tensor& dweight, const Tensor& dbias) = 0;
  virtual void group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                                  const Tensor& y, const Tensor& mean, const Tensor& rstd) = 0;
  virtual void group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                   int groups, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                                   const Tensor& dbeta) = 0;
  virtual void group_norm_silu_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                                       const Dropout& dropout, const Tensor& y, const Tensor& mean,
                                       const Tensor& rstd) = 0;
  virtual void group_norm_silu_backward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                                        const Tensor& rstd, int groups, const Dropout& dropout, const Tensor& dy,
                                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) = 0;
  virtual void silu_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) = 0;
  virtual void relu_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) = 0;
  virtual void max_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) = 0;
  virtual void max_pool2d_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) = 0;
  virtual void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) = 0;
  virtual void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) = 0;
  virtual void global_avg_pool_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) = 0;
  virtual void resize_bilinear_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void resize_bilinear_backward(const Tensor& dy, const Tensor& dx) = 0;
  virtual void upsample_nearest2x_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx) = 0;
  virtual void concat_channels(const Tensor& a, const Tensor& b, const Tensor& y) = 0;
  virtual void split_channels(const Tensor& y, const Tensor& a, const Tensor& b) = 0;
  virtual void add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) = 0;
  virtual void add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) = 0;
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& y) = 0;
  virtual void accumulate(const Tensor& y, const Tensor& x) = 0;
  virtual void scale(const Tensor& x, float alpha, const Tensor& y) = 0;
  virtual void combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b,
                                  const Tensor& y) = 0;
  virtual void clamp(const Tensor& x, float low, float high, const Tensor& y) = 0;
  virtual void attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs) = 0;
  virtual void attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv) = 0;
  virtual void dropout_forward(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) = 0;
  virtual void dropout_backward(const Tensor& dy, float p, const DropoutKey& key, const Tensor& dx) = 0;
  virtual void fill_normal(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                           uint32_t first_sample) = 0;
  virtual void fill_uniform(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                            uint32_t first_sample) = 0;
  virtual void timestep_embedding_forward(const Tensor& t, const Tensor& out) = 0;
  virtual void timestep_embedding_backward(const Tensor& t, const Tensor& dout, const Tensor& dt) = 0;
  virtual void embedding_forward(const Tensor& table, const Tensor& labels, const Tensor& out) = 0;
  virtual void embedding_backward(const Tensor& labels, const Tensor& dout, const Tensor& dtable) = 0;
  virtual void mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights,
                                const Tensor& per_sample) = 0;
  virtual void mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, float loss_scale,
                                 const Tensor& dpred) = 0;
  virtual void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& per_sample) = 0;
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& labels, float loss_scale,
                                      const Tensor& dlogits) = 0;
  virtual void adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                            const AdamWStep& step) = 0;
  virtual void ema_update(const Tensor& ema, const Tensor& params, float decay) = 0;
  virtual double sum_of_squares(const Tensor& x) = 0;
  virtual void cast(const Tensor& source, const Tensor& destination) = 0;
};

// The backend for a device; throws if this build or machine has none.
Backend& backend_for(Device device);

}  // namespace diffuse
