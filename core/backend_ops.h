// The backend op list, written once. Each entry is X(return type, name, (parameters)); core/backend.h expands it
// into Backend's pure virtuals, core/cpu/cpu_backend.h and core/cuda/cuda_backend.h into their overrides. The
// parameter types are named as in namespace diffuse (core/backend.h brings the ops:: structs in).
//
// To add an op:
//  1. Document it in core/ops.h (shapes, what it writes or accumulates, default arguments) and validate its
//     arguments and dispatch to the backend in core/ops.cpp.
//  2. Add its entry here.
//  3. Define CpuBackend::<name> in core/cpu/ and CudaBackend::<name> in core/cuda/, forward next to backward.
//  4. Test it in tests/ops/ (naive loop, finite differences, rejected arguments) and add its entry to the table
//     in tests/gpu/test_gpu_ops.cpp.
#pragma once

#include <cstdint>

#include "core/ops.h"

#define DIFFUSE_BACKEND_OPS(X)                                                                                         \
  X(void, conv2d_forward,                                                                                              \
    (const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual, const Tensor& y,               \
     const Conv2dWindow& window))                                                                                      \
  X(void, conv2d_backward,                                                                                             \
    (const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,                 \
     const Tensor& dbias, const Conv2dWindow& window))                                                                 \
  X(void, linear_forward, (const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y))                \
  X(void, linear_backward,                                                                                             \
    (const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,                 \
     const Tensor& dbias))                                                                                             \
  X(void, group_norm_forward,                                                                                          \
    (const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps, const Tensor& y,                 \
     const Tensor& mean, const Tensor& rstd))                                                                          \
  X(void, group_norm_backward,                                                                                         \
    (const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int groups, const Tensor& dy,       \
     const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta))                                                     \
  X(void, group_norm_silu_forward,                                                                                     \
    (const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps, const Dropout& dropout,          \
     const Tensor& y, const Tensor& mean, const Tensor& rstd))                                                         \
  X(void, group_norm_silu_backward,                                                                                    \
    (const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& rstd, int groups,     \
     const Dropout& dropout, const Tensor& dy, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta))           \
  X(void, silu_forward, (const Tensor& x, const Tensor& y))                                                            \
  X(void, silu_backward, (const Tensor& x, const Tensor& dy, const Tensor& dx))                                        \
  X(void, relu_forward, (const Tensor& x, const Tensor& y))                                                            \
  X(void, relu_backward, (const Tensor& x, const Tensor& dy, const Tensor& dx))                                        \
  X(void, max_pool2d_forward, (const Tensor& x, const Tensor& y, const Pool2dWindow& window))                          \
  X(void, max_pool2d_backward, (const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window))      \
  X(void, avg_pool2d_forward, (const Tensor& x, const Tensor& y, const Pool2dWindow& window))                          \
  X(void, avg_pool2d_backward, (const Tensor& dy, const Tensor& dx, const Pool2dWindow& window))                       \
  X(void, global_avg_pool_forward, (const Tensor& x, const Tensor& y))                                                 \
  X(void, global_avg_pool_backward, (const Tensor& dy, const Tensor& dx))                                              \
  X(void, resize_bilinear_forward, (const Tensor& x, const Tensor& y))                                                 \
  X(void, resize_bilinear_backward, (const Tensor& dy, const Tensor& dx))                                              \
  X(void, upsample_nearest2x_forward, (const Tensor& x, const Tensor& y))                                              \
  X(void, upsample_nearest2x_backward, (const Tensor& dy, const Tensor& dx))                                           \
  X(void, concat_channels, (const Tensor& a, const Tensor& b, const Tensor& y))                                        \
  X(void, split_channels, (const Tensor& y, const Tensor& a, const Tensor& b))                                         \
  X(void, add_channel_vector_forward, (const Tensor& x, const Tensor& v, const Tensor& y))                             \
  X(void, add_channel_vector_backward, (const Tensor& dy, const Tensor& dx, const Tensor& dv))                         \
  X(void, scale_shift_channels_forward, (const Tensor& x, const Tensor& scale_shift, const Tensor& y))                 \
  X(void, scale_shift_channels_backward,                                                                               \
    (const Tensor& x, const Tensor& scale_shift, const Tensor& dy, const Tensor& dx, const Tensor& dscale_shift))      \
  X(void, add, (const Tensor& a, const Tensor& b, const Tensor& y))                                                    \
  X(void, accumulate, (const Tensor& y, const Tensor& x))                                                              \
  X(void, scale, (const Tensor& x, float alpha, const Tensor& y))                                                      \
  X(void, fill_zero, (const Tensor& x))                                                                                \
  X(void, combine_per_sample, (const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b, const Tensor& y))   \
  X(void, clamp, (const Tensor& x, float low, float high, const Tensor& y))                                            \
  X(void, attention_forward, (const Tensor& qkv, const Tensor& out, const Tensor& probs, int heads))                   \
  X(void, attention_backward,                                                                                          \
    (const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv, int heads))                       \
  X(void, dropout_forward, (const Tensor& x, float p, const DropoutKey& key, const Tensor& y))                         \
  X(void, dropout_backward, (const Tensor& dy, float p, const DropoutKey& key, const Tensor& dx))                      \
  X(void, fill_normal, (const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step, uint32_t first_sample))  \
  X(void, fill_uniform, (const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step, uint32_t first_sample)) \
  X(void, timestep_embedding_forward, (const Tensor& t, const Tensor& out))                                            \
  X(void, timestep_embedding_backward, (const Tensor& t, const Tensor& dout, const Tensor& dt))                        \
  X(void, embedding_forward, (const Tensor& table, const Tensor& labels, const Tensor& out))                           \
  X(void, embedding_backward, (const Tensor& labels, const Tensor& dout, const Tensor& dtable))                        \
  X(void, mse_loss_forward,                                                                                            \
    (const Tensor& pred, const Tensor& target, const Tensor& weights, const Tensor& per_sample))                       \
  X(void, mse_loss_backward,                                                                                           \
    (const Tensor& pred, const Tensor& target, const Tensor& weights, const LossScale& loss_scale,                     \
     const Tensor& dpred))                                                                                             \
  X(void, pseudo_huber_loss_forward,                                                                                   \
    (const Tensor& pred, const Tensor& target, const Tensor& weights, float c, const Tensor& per_sample))              \
  X(void, pseudo_huber_loss_backward,                                                                                  \
    (const Tensor& pred, const Tensor& target, const Tensor& weights, float c, const LossScale& loss_scale,            \
     const Tensor& dpred))                                                                                             \
  X(void, cross_entropy_forward, (const Tensor& logits, const Tensor& labels, const Tensor& per_sample))               \
  X(void, cross_entropy_backward,                                                                                      \
    (const Tensor& logits, const Tensor& labels, float loss_scale, const Tensor& dlogits))                             \
  X(void, adamw_update,                                                                                                \
    (const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const AdamWStep& step,               \
     const Tensor& decision))                                                                                          \
  X(void, ema_update, (const Tensor& ema, const Tensor& params, float decay, const Tensor& decision))                  \
  X(void, sum_of_squares, (const Tensor& x, const Tensor& result))                                                     \
  X(void, decide_step, (const Tensor& partial_squares, const StepRule& rule, const Tensor& state))                     \
  X(void, cast, (const Tensor& source, const Tensor& destination))
