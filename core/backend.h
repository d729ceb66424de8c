// Backend: the interface each device implements (core/cpu, core/cuda). Its
// methods mirror core/ops.h one to one; ops.cpp validates the arguments once
// for every backend and then calls the backend of the tensors' device, so an
// implementation may assume shapes, dtypes and devices are consistent.
#pragma once

#include "core/ops.h"

namespace diffuse {

using ops::AdamWStep;
using ops::Conv2dWindow;
using ops::DropoutKey;
using ops::Pool2dWindow;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Square convolutions (the U-Net's): `padding` on both axes.
  virtual void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, int stride,
                              int padding) = 0;
  virtual void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                               const Tensor& dweight, const Tensor& dbias, int stride, int padding) = 0;
  // Any window (Inception's 1x7, 7x1, 5x5): ops.cpp calls these. A backend that only has the
  // square form gets it for equal paddings and a clear error otherwise.
  virtual void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                              const Conv2dWindow& window) {
    if (window.pad_h != window.pad_w) missing("conv2d_forward with unequal paddings");
    conv2d_forward(x, weight, bias, y, window.stride, window.pad_h);
  }
  virtual void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                               const Tensor& dweight, const Tensor& dbias, const Conv2dWindow& window) {
    if (window.pad_h != window.pad_w) missing("conv2d_backward with unequal paddings");
    conv2d_backward(x, weight, dy, dx, dweight, dbias, window.stride, window.pad_h);
  }
  virtual void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) = 0;
  virtual void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                               const Tensor& dweight, const Tensor& dbias) = 0;
  virtual void group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                                  const Tensor& y, const Tensor& mean, const Tensor& rstd) = 0;
  virtual void group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                   int groups, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                                   const Tensor& dbeta) = 0;
  virtual void silu_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) = 0;
  virtual void upsample_nearest2x_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx) = 0;
  virtual void concat_channels(const Tensor& a, const Tensor& b, const Tensor& y) = 0;
  virtual void split_channels(const Tensor& y, const Tensor& a, const Tensor& b) = 0;
  virtual void add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) = 0;
  virtual void add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) = 0;
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& y) = 0;
  virtual void accumulate(const Tensor& y, const Tensor& x) = 0;
  virtual void scale(const Tensor& x, float alpha, const Tensor& y) = 0;
  virtual void combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b, const Tensor& y) = 0;
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
  virtual void adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                            const AdamWStep& step) = 0;
  virtual void ema_update(const Tensor& ema, const Tensor& params, float decay) = 0;
  virtual double sum_of_squares(const Tensor& x) = 0;
  virtual void cast(const Tensor& source, const Tensor& destination) = 0;

  // Evaluation ops (feature networks). Not every backend has them yet: the
  // defaults say which op is missing where.
  virtual void relu_forward(const Tensor&, const Tensor&) { missing("relu_forward"); }
  virtual void relu_backward(const Tensor&, const Tensor&, const Tensor&) { missing("relu_backward"); }
  virtual void max_pool2d_forward(const Tensor&, const Tensor&, const Pool2dWindow&) { missing("max_pool2d_forward"); }
  virtual void max_pool2d_backward(const Tensor&, const Tensor&, const Tensor&, const Pool2dWindow&) {
    missing("max_pool2d_backward");
  }
  virtual void avg_pool2d_forward(const Tensor&, const Tensor&, const Pool2dWindow&) { missing("avg_pool2d_forward"); }
  virtual void avg_pool2d_backward(const Tensor&, const Tensor&, const Pool2dWindow&) {
    missing("avg_pool2d_backward");
  }
  virtual void global_avg_pool_forward(const Tensor&, const Tensor&) { missing("global_avg_pool_forward"); }
  virtual void global_avg_pool_backward(const Tensor&, const Tensor&) { missing("global_avg_pool_backward"); }
  virtual void resize_bilinear_forward(const Tensor&, const Tensor&) { missing("resize_bilinear_forward"); }
  virtual void resize_bilinear_backward(const Tensor&, const Tensor&) { missing("resize_bilinear_backward"); }
  virtual void cross_entropy_forward(const Tensor&, const Tensor&, const Tensor&) { missing("cross_entropy_forward"); }
  virtual void cross_entropy_backward(const Tensor&, const Tensor&, float, const Tensor&) {
    missing("cross_entropy_backward");
  }

 protected:
  [[noreturn]] void missing(const char* op) const {
    throw Error(concat(op, " is not implemented by the ", name(), " backend yet"));
  }
};

// The backend for a device; throws if this build or machine has none.
Backend& backend_for(Device device);

}  // namespace diffuse
