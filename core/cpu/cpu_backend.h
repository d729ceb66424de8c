// CpuBackend: the reference implementation of every op, and a fast one.
// Convolutions run on oneDNN's kernels, linear layers and attention on its
// GEMM; the rest are OpenMP loops over NHWC memory. Methods are
// defined one op family per file in this folder.
#pragma once

#include "core/backend.h"

namespace diffuse::cpu {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                      const Tensor& y, const Conv2dWindow& window) override;
  void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,
                       const Tensor& dbias, const Conv2dWindow& window) override;
  void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) override;
  void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,
                       const Tensor& dbias) override;
  void group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                          const Tensor& y, const Tensor& mean, const Tensor& rstd) override;
  void group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int groups,
                           const Tensor& dy, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) override;
  void group_norm_silu_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                               const Dropout& dropout, const Tensor& y, const Tensor& mean,
                               const Tensor& rstd) override;
  void group_norm_silu_backward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                                const Tensor& rstd, int groups, const Dropout& dropout, const Tensor& dy,
                                const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) override;
  void silu_forward(const Tensor& x, const Tensor& y) override;
  void silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) override;
  void relu_forward(const Tensor& x, const Tensor& y) override;
  void relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) override;
  void max_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) override;
  void max_pool2d_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) override;
  void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) override;
  void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) override;
  void global_avg_pool_forward(const Tensor& x, const Tensor& y) override;
  void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) override;
  void resize_bilinear_forward(const Tensor& x, const Tensor& y) override;
  void resize_bilinear_backward(const Tensor& dy, const Tensor& dx) override;
  void upsample_nearest2x_forward(const Tensor& x, const Tensor& y) override;
  void upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx) override;
  void concat_channels(const Tensor& a, const Tensor& b, const Tensor& y) override;
  void split_channels(const Tensor& y, const Tensor& a, const Tensor& b) override;
  void add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) override;
  void add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) override;
  void add(const Tensor& a, const Tensor& b, const Tensor& y) override;
  void accumulate(const Tensor& y, const Tensor& x) override;
  void scale(const Tensor& x, float alpha, const Tensor& y) override;
  void combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b, const Tensor& y) override;
  void clamp(const Tensor& x, float low, float high, const Tensor& y) override;
  void attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs) override;
  void attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv) override;
  void dropout_forward(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) override;
  void dropout_backward(const Tensor& dy, float p, const DropoutKey& key, const Tensor& dx) override;
  void fill_normal(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                   uint32_t first_sample) override;
  void fill_uniform(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step,
                    uint32_t first_sample) override;
  void timestep_embedding_forward(const Tensor& t, const Tensor& out) override;
  void timestep_embedding_backward(const Tensor& t, const Tensor& dout, const Tensor& dt) override;
  void embedding_forward(const Tensor& table, const Tensor& labels, const Tensor& out) override;
  void embedding_backward(const Tensor& labels, const Tensor& dout, const Tensor& dtable) override;
  void mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights,
                        const Tensor& per_sample) override;
  void mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, float loss_scale,
                         const Tensor& dpred) override;
  void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& per_sample) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& labels, float loss_scale,
                              const Tensor& dlogits) override;
  void adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                    const AdamWStep& step) override;
  void ema_update(const Tensor& ema, const Tensor& params, float decay) override;
  double sum_of_squares(const Tensor& x) override;
  void cast(const Tensor& source, const Tensor& destination) override;
};

}  // namespace diffuse::cpu
