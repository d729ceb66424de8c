// The operations every backend implements, with the shapes they accept.
//
// Conventions:
//  - Activations are NHWC; "[N,L,C]" token tensors are NHWC with L = H*W.
//  - Tensors are handles: an output passed as `const Tensor&` is written through.
//  - Backward functions WRITE activation gradients (dx = ...) and ACCUMULATE
//    parameter gradients (dweight += ...), so one flat gradient buffer can
//    collect contributions over micro-batches. An undefined Tensor() in a
//    gradient slot skips that gradient.
//  - Every op checks its arguments first: a shape, dtype or device mismatch
//    throws an Error naming the op and the shapes involved.
//  - The op runs on the backend of its tensors' device (all must agree).
//  - Tensors are f32 unless an op says otherwise. The ops marked "Activations:
//    f32, bf16 or f16" take the activation arguments they name (the tensors that
//    flow between layers and their gradients) in any of the three, all of one
//    dtype within a call; their parameters, parameter gradients and statistics
//    stay f32. They compute in fp32 (bf16/f16 widened on load), round once to
//    nearest even on store, and sum in fp32 or double as the f32 path does.
//    The matrix products (conv2d, linear, attention) also take low-precision
//    activations: x, y, dx, dy, residual (conv), qkv, out, dout, dqkv
//    (attention) share one dtype, f32, bf16 or, on the GPU only, f16 (the CPU
//    has no f16 products); weights are f32 or that dtype (the low-precision
//    copy of fp32 master weights); bias, dweight, dbias and probs are always
//    f32. Low-precision activations multiply in their type with fp32
//    accumulation, each output rounded once (core/matmul_precision.h), except
//    that a GPU convolution adds its bias and residual to the product cuDNN has
//    rounded and rounds the sum again; weight and bias gradients accumulate in
//    fp32.
#pragma once

#include <cstdint>
#include <utility>

#include "core/math/step_decision.h"
#include "core/tensor.h"

namespace diffuse::ops {

// ---- convolution and linear -------------------------------------------------

// How a convolution window moves: one stride for both axes and zero padding
// per axis (pad_h rows above and below, pad_w columns left and right).
struct Conv2dWindow {
  int stride = 1;
  int pad_h = 0;
  int pad_w = 0;
};

// x [N,H,W,Ci], weight [Co,Kh,Kw,Ci], bias [Co] or undefined -> y [N,Ho,Wo,Co],
// Ho = (H + 2*pad_h - Kh) / stride + 1, Wo = (W + 2*pad_w - Kw) / stride + 1.
// Any kernel with stride >= 1 and 0 <= padding < kernel per axis (Inception's
// 1x7, 7x1, 5x5 and unpadded 3x3 as well as the U-Net's 3x3 and 1x1).
// With `residual` [N,Ho,Wo,Co] (a skip connection; not y's memory), y =
// conv + bias + residual, added where the bias is (on the GPU in the same pass
// over y), instead of in another pass.
void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                    const Conv2dWindow& window, const Tensor& residual = Tensor());
void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,
                     const Tensor& dbias, const Conv2dWindow& window);
// The square form the U-Net uses: `padding` on both axes.
inline void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, int stride,
                           int padding, const Tensor& residual = Tensor()) {
  conv2d_forward(x, weight, bias, y, Conv2dWindow{stride, padding, padding}, residual);
}
inline void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                            const Tensor& dweight, const Tensor& dbias, int stride, int padding) {
  conv2d_backward(x, weight, dy, dx, dweight, dbias, Conv2dWindow{stride, padding, padding});
}

// x [M,K], weight [N,K], bias [N] or undefined -> y [M,N] = x weight^T + bias.
void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y);
void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,
                     const Tensor& dbias);

// ---- normalisation and activation --------------------------------------------

// x [N,H,W,C], gamma/beta [C], C divisible by groups -> y; saves mean/rstd [N,groups] for backward.
// Activations: f32, bf16 or f16 for x, y, dy, dx (here and in group_norm_silu_*).
void group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                        const Tensor& y, const Tensor& mean, const Tensor& rstd);
void group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int groups,
                         const Tensor& dy, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta);

// Which dropout mask: element i of sample n keeps iff uniform(seed, dropout
// base + layer, step, first_sample + n)[i] >= p. Regenerated in backward, never stored.
struct DropoutKey {
  uint64_t seed = 0;
  uint32_t step = 0;
  uint32_t first_sample = 0;  // global index of the batch's sample 0
  uint32_t layer = 0;
};
// A dropout to apply: none when p == 0.
struct Dropout {
  float p = 0.0f;  // 0 <= p < 1
  DropoutKey key;
};

// The normalisation in front of a ResBlock's convolutions as one op, one read of x for the statistics and one
// more for the output: y = dropout(SiLU(GroupNorm(x))) (dropout_forward's mask and scale), mean/rstd as
// group_norm_forward. Backward recomputes GroupNorm(x) and the mask from x, the statistics and the key, so forward
// keeps nothing but x and the statistics; dx may alias dy.
void group_norm_silu_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                             const Dropout& dropout, const Tensor& y, const Tensor& mean, const Tensor& rstd);
void group_norm_silu_backward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                              const Tensor& rstd, int groups, const Dropout& dropout, const Tensor& dy,
                              const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta);

// y = x * sigmoid(x), any shape. Activations: f32, bf16 or f16 for x, y, dy, dx.
void silu_forward(const Tensor& x, const Tensor& y);
void silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx);

// y = max(x, 0), any shape; y may alias x. Backward: dx = dy where x > 0, else 0.
// Activations: f32, bf16 or f16 for x, y, dy, dx.
void relu_forward(const Tensor& x, const Tensor& y);
void relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx);

// ---- resampling and plumbing --------------------------------------------------

// x [N,H,W,C] -> y [N,2H,2W,C], nearest neighbour. Activations: f32, bf16 or f16 for x, y, dy, dx.
void upsample_nearest2x_forward(const Tensor& x, const Tensor& y);
void upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx);

// a [N,H,W,Ca], b [N,H,W,Cb] -> y [N,H,W,Ca+Cb]. Its backward is split_channels.
// Activations: f32, bf16 or f16 for a, b, y (here and in split_channels).
void concat_channels(const Tensor& a, const Tensor& b, const Tensor& y);
// y [N,H,W,Ca+Cb] -> a [N,H,W,Ca], b [N,H,W,Cb] (either may be undefined). Its backward is concat_channels.
void split_channels(const Tensor& y, const Tensor& a, const Tensor& b);

// x [N,H,W,C] + v [N,C] broadcast over H,W -> y (the time embedding in a ResBlock).
// Activations: f32, bf16 or f16 for x, y, dy, dx; v and dv are f32.
void add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y);
// dx = dy (skipped when undefined or the same memory), dv [N,C] = sum over H,W of dy.
void add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv);

// y = a + b (residual connections), same shapes; y may alias a or b. Activations: f32, bf16 or f16 for a, b, y.
void add(const Tensor& a, const Tensor& b, const Tensor& y);
// y += x. Activations: f32, bf16 or f16 for y, x.
void accumulate(const Tensor& y, const Tensor& x);
// y = alpha * x; y may alias x. Activations: f32, bf16 or f16 for x, y.
void scale(const Tensor& x, float alpha, const Tensor& y);
// Every element of x (any dtype) set to exactly zero by a memset, whatever it held (scale by 0 would keep NaN).
void fill_zero(const Tensor& x);

// y[n] = a[n] * p[n] + b[n] * q[n] for every sample n: p, q, y [N,...], a, b [N]
// (noising z = alpha x + sigma eps, targets and sampler updates). y may alias p or q.
// Activations: f32, bf16 or f16 for p, q, y; a and b are f32.
void combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b, const Tensor& y);
// y = min(max(x, low), high); y may alias x. Activations: f32, bf16 or f16 for x, y.
void clamp(const Tensor& x, float low, float high, const Tensor& y);

// The adaptive group norm's modulation: y = x * (1 + scale) + shift per sample and channel, with
// x [N,H,W,C] and scale_shift [N,2C] holding scale in its first C columns and shift in the last C; y may alias x.
// Activations: f32, bf16 or f16 for x, y, dy, dx; scale_shift and dscale_shift are f32.
void scale_shift_channels_forward(const Tensor& x, const Tensor& scale_shift, const Tensor& y);
// dx = dy * (1 + scale) (dx may alias dy); WRITES dscale_shift [N,2C]: sum over H,W of dy * x, then of dy.
void scale_shift_channels_backward(const Tensor& x, const Tensor& scale_shift, const Tensor& dy, const Tensor& dx,
                                   const Tensor& dscale_shift);

// ---- pooling and resizing ----------------------------------------------------

// A square pooling window: kernel x kernel taps, `stride` apart, `padding` on every side.
struct Pool2dWindow {
  int kernel = 3;
  int stride = 1;
  int padding = 0;
};

// x [N,H,W,C] -> y [N,Ho,Wo,C], Ho = (H + 2*padding - kernel) / stride + 1; padding < kernel.
// Activations: f32, bf16 or f16 for x, y, dy, dx (max and average pooling).
// Max pooling ignores the padding; backward routes each dy to the first maximal tap
// (recomputed from x, so no indices are stored).
void max_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window);
void max_pool2d_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window);
// Average pooling divides by the taps inside the image (PyTorch's count_include_pad=False,
// TensorFlow's 'SAME' average pool), so border outputs are not pulled towards zero.
void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window);
void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Pool2dWindow& window);

// x [N,H,W,C] -> y [N,C], the mean over H and W. Backward: dx = dy / (H*W) everywhere.
// Activations: f32, bf16 or f16 for x, y, dy, dx.
void global_avg_pool_forward(const Tensor& x, const Tensor& y);
void global_avg_pool_backward(const Tensor& dy, const Tensor& dx);

// x [N,H,W,C] -> y [N,Ho,Wo,C], bilinear with half-pixel centres (PyTorch's
// align_corners=False, no antialiasing): source coordinate (o + 0.5) * H / Ho - 0.5,
// clamped at 0 below and at the last pixel above. Backward scatters dy with the same weights.
// Activations: f32, bf16 or f16 for x, y, dy, dx.
void resize_bilinear_forward(const Tensor& x, const Tensor& y);
void resize_bilinear_backward(const Tensor& dy, const Tensor& dx);

// ---- attention ----------------------------------------------------------------

// Multi-head self-attention over L tokens: qkv [N,L,3C] holds q, k, v side by
// side in the channels (a 1x1 conv's output), C divisible by `heads`; head h
// reads channels [h*D, (h+1)*D) of each of q, k and v (D = C / heads) and
// writes those channels of out [N,L,C] = softmax(q_h k_h^T / sqrt(D)) v_h;
// probs [N*heads,L,L] (sample-major, then head) is saved for backward.
void attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs, int heads = 1);
void attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv, int heads = 1);

// ---- randomness ---------------------------------------------------------------

// x [N,...] -> y = mask * x / (1 - p); 0 <= p < 1. Activations: f32, bf16 or f16 for x, y, dy, dx.
void dropout_forward(const Tensor& x, float p, const DropoutKey& key, const Tensor& y);
void dropout_backward(const Tensor& dy, float p, const DropoutKey& key, const Tensor& dx);

// tensor [N,...]: row n is standard normal from stream (seed, purpose, step, first_sample + n).
void fill_normal(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step, uint32_t first_sample);
void fill_uniform(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step, uint32_t first_sample);

// ---- embeddings ---------------------------------------------------------------

// t [N] -> out [N,D], D even: [sin(t f_0..f_{D/2-1}), cos(t f_0..)] with
// f_i = exp(-ln(10000) i / (D/2 - 1)) (DDPM). Backward gives dt [N] (t is
// differentiable for continuous-time use; the trainer does not need it).
void timestep_embedding_forward(const Tensor& t, const Tensor& out);
void timestep_embedding_backward(const Tensor& t, const Tensor& dout, const Tensor& dt);

// table [K,D], labels [N] i32 in [0,K) -> out [N,D] = table[labels]; backward dtable += scatter.
void embedding_forward(const Tensor& table, const Tensor& labels, const Tensor& out);
void embedding_backward(const Tensor& labels, const Tensor& dout, const Tensor& dtable);

// ---- loss ---------------------------------------------------------------------

// What a loss backward multiplies the summed losses by: `factor`, times the dynamic loss scale that `step_state`
// (a step-state tensor, core/step_state.h) holds where it is defined. The kernels read that scale on the device, so
// an fp16 step's backward does not wait for the host to learn the scale the last step left.
struct LossScale {
  LossScale(float factor = 1.0f, Tensor step_state = Tensor()) : factor(factor), step_state(std::move(step_state)) {}
  float factor;
  Tensor step_state;
};

// pred, target [N,...], weights [N] -> per_sample [N] = weights[n] * mean_i (pred - target)^2.
void mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights, const Tensor& per_sample);
// dpred = d(loss_scale * sum_n per_sample[n]) / dpred.
void mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, const LossScale& loss_scale,
                       const Tensor& dpred);

// The pseudo-Huber distance (Song & Dhariwal 2023): pred, target [N,...], weights [N], c > 0 ->
// per_sample [N] = weights[n] * (sqrt(sum_i (pred - target)^2 + c^2) - c).
void pseudo_huber_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                               const Tensor& per_sample);
// dpred = d(loss_scale * sum_n per_sample[n]) / dpred = loss_scale w (pred - target) / sqrt(|pred - target|^2 + c^2).
void pseudo_huber_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                                const LossScale& loss_scale, const Tensor& dpred);

// logits [N,K], labels [N] i32 in [0,K) -> per_sample [N] = -log softmax(logits[n])[labels[n]].
void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& per_sample);
// dlogits = d(loss_scale * sum_n per_sample[n]) / dlogits = loss_scale * (softmax - one_hot).
void cross_entropy_backward(const Tensor& logits, const Tensor& labels, float loss_scale, const Tensor& dlogits);

// ---- optimiser and flat-buffer math -------------------------------------------

struct AdamWStep {
  float lr = 1e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  int64_t step = 1;         // 1-based, for bias correction
  float grad_scale = 1.0f;  // multiplies the gradient first (loss-scale undo, clipping)
};
// Flat fp32 buffers of equal length: decoupled weight decay, bias-corrected moments. With `decision` (a step state,
// see decide_step) the update reads its gradient factor in place of step.grad_scale from the device and leaves
// params, m and v alone when it says skip, so the host need not wait for the decision.
void adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const AdamWStep& step,
                  const Tensor& decision = Tensor());
// ema = decay * ema + (1 - decay) * params; nothing when `decision` (a step state) says skip.
void ema_update(const Tensor& ema, const Tensor& params, float decay, const Tensor& decision = Tensor());
// sum of x^2 in double (gradient norms; inf/NaN propagate, which the loss scaler relies on), read to the host.
double sum_of_squares(const Tensor& x);
// The same sum left on x's device in `result`, f32 [2] holding the double's bytes (there is no f64 dtype).
void sum_of_squares(const Tensor& x, const Tensor& result);
// The optimiser step's decision on the device (core/math/step_decision.h): partial_squares, f32 [2k], holds k
// doubles (sums of squares of the gradients' parts, e.g. the ranks' shards) added in order; state, f32
// [kStepStateFloats], holds a StepState that is updated and receives the gradient factor and the skip flag.
void decide_step(const Tensor& partial_squares, const StepRule& rule, const Tensor& state);
// Element type conversion between f32, bf16 and f16 (round to nearest even).
void cast(const Tensor& source, const Tensor& destination);

}  // namespace diffuse::ops
