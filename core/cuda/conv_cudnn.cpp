// Convolutions on cuDNN, NHWC with weights [Co,Kh,Kw,Ci] (cuDNN's NHWC filter
// layout, so no copies), any window: forward, data gradient and filter gradient.
//
// For each (pass, shape, dtype) a plan is made once and cached: descriptors
// plus the fastest deterministic algorithm that cudnnFind measured (cuDNN's
// heuristics if measuring fails, or always with DIFFUSE_CUDNN_SEARCH=heuristic:
// measured choices can differ between processes, heuristic ones cannot, for
// runs that must repeat bit for bit), with its workspace size; the workspace
// itself is the context's, grown to the largest plan. fp32 convolutions use
// FMA math only (cuDNN would otherwise allow TF32 on Ampere and later); bf16
// and fp16 ones use tensor cores with fp32 accumulation. bf16/fp16 activations
// are read as they are (the weights as they are when they are the activations'
// low-precision copy) and y and dx are written in their type, the bias and
// skip connection added in one more pass; fp32 activations multiplied in the
// matmul dtype are rounded into operand copies made by cast_copy and the
// results widened into the fp32 outputs. Where cuDNN has no algorithm for a
// low-precision type and shape, the pass runs in fp32 on widened copies.
//
// This uses cuDNN's convolution API of cuDNN 7/8, deprecated but supported
// throughout cuDNN 9: the one proven on every GPU generation and the least
// code. Moving to the graph API changes this file only.
#include <cudnn.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "core/checks_cuda.h"
#include "core/cuda/context.h"
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernels.h"
#include "core/cuda/library_types.h"
#include "core/cuda/runtime.h"
#include "core/log.h"
#include "core/matmul_precision.h"
#include "core/memory_retry.h"

namespace diffuse::cuda {

namespace {

// Algorithms needing more scratch than this are skipped.
constexpr size_t kWorkspaceLimit = size_t{1} << 30;

enum class ConvPass { Forward, BackwardData, BackwardFilter };

struct ConvShape {
  int64_t batch, height, width, in_channels, out_channels, kernel_h, kernel_w;
  int stride, pad_h, pad_w;

  int64_t out_height() const { return (height + 2 * pad_h - kernel_h) / stride + 1; }
  int64_t out_width() const { return (width + 2 * pad_w - kernel_w) / stride + 1; }
};

struct ConvKey {
  int device;
  ConvPass pass;
  DType dtype;
  ConvShape shape;

  auto tied() const {
    return std::make_tuple(device, pass, dtype, shape.batch, shape.height, shape.width, shape.in_channels,
                           shape.out_channels, shape.kernel_h, shape.kernel_w, shape.stride, shape.pad_h, shape.pad_w);
  }
  bool operator<(const ConvKey& other) const { return tied() < other.tied(); }
};

struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnTensorDescriptor_t y = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  ConvTypes types{};  // what the descriptors are configured with, for the record (core/cuda/library_types.h)
  int algorithm = 0;  // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t of the pass
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;  // the math the algorithm was measured with
  size_t workspace_bytes = 0;
  bool usable = false;  // cuDNN offered an algorithm within the workspace limit
};

// "conv2d forward bf16 128x32x32x256 -> 256 channels, kernel 3x3 stride 1", for messages.
std::string describe(const ConvKey& key) {
  const ConvShape& s = key.shape;
  const char* pass = key.pass == ConvPass::Forward        ? "forward"
                     : key.pass == ConvPass::BackwardData ? "backward data"
                                                          : "backward filter";
  return concat("conv2d ", pass, " ", dtype_name(key.dtype), " ", s.batch, "x", s.height, "x", s.width, "x",
                s.in_channels, " -> ", s.out_channels, " channels, kernel ", s.kernel_h, "x", s.kernel_w, " stride ",
                s.stride);
}

// The pool keeps every freed block; what neither cudnnFind's own scratch nor a larger workspace can then get is
// given back to the driver before they try again (core/memory_retry.h).
void release_cached_memory() { device_allocator().release_cached(); }

int to_int(int64_t value) {
  DIFFUSE_CHECK(value >= 0 && value <= INT32_MAX, "conv2d: extent ", value, " is too large for cuDNN");
  return static_cast<int>(value);
}

// The first usable result: cuDNN sorts by speed (Find) or expected speed
// (heuristics). Deterministic algorithms only, so runs repeat bit for bit,
// unless none fits.
template <typename Perf>
bool pick(const Perf* results, int count, ConvPlan& plan) {
  for (const bool need_deterministic : {true, false}) {
    for (int i = 0; i < count; ++i) {
      const Perf& r = results[i];
      if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kWorkspaceLimit) continue;
      if (need_deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
      plan.algorithm = static_cast<int>(r.algo);
      plan.math = r.mathType;
      plan.workspace_bytes = r.memory;
      if (!need_deterministic) log_warning("conv2d: no deterministic cuDNN algorithm fits; results may vary by run");
      return true;
    }
  }
  return false;
}

bool measure_algorithms() {
  static const bool measure = [] {
    const char* search = std::getenv("DIFFUSE_CUDNN_SEARCH");
    const std::string mode = search != nullptr ? search : "find";
    DIFFUSE_CHECK(mode == "find" || mode == "heuristic", "DIFFUSE_CUDNN_SEARCH must be find or heuristic, not '", mode,
                  "'");
    return mode == "find";
  }();
  return measure;
}

// DIFFUSE_CUDNN_LOG_ALGORITHMS=1 logs each plan's algorithm once, when it is made (scripts/gpu_check.sh sets it).
bool log_algorithms() {
  static const bool log = [] {
    const char* flag = std::getenv("DIFFUSE_CUDNN_LOG_ALGORITHMS");
    return flag != nullptr && std::string(flag) == "1";
  }();
  return log;
}

// cudnnFind's status, with running out of memory thrown as OutOfMemoryError for with_memory_retry.
cudnnStatus_t memory_checked(cudnnStatus_t status) {
  if (status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ||
      status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
    throw OutOfMemoryError(concat("cuDNN error: ", cudnnGetErrorString(status), " in cudnnFind"));
  return status;
}

// cudnnFind runs every algorithm once (on scratch memory it allocates itself,
// outside our pool: when that runs out, the pool is trimmed and the search
// retried once); if it fails or offers nothing usable, ask the heuristics
// instead. Both fill up to kCount results; `find` returns its cuDNN status,
// `heuristic` throws on failure. False when neither offers an algorithm.
template <typename Perf, int kCount, typename Find, typename Heuristic>
bool choose(const ConvKey& key, ConvPlan& plan, const Find& find, const Heuristic& heuristic) {
  Perf results[kCount];
  int returned = 0;
  if (measure_algorithms()) {
    bool measured = false;
    try {
      measured =
          with_memory_retry([&] { return memory_checked(find(kCount, &returned, results)); }, release_cached_memory,
                            [&] { return concat(describe(key), ": cuDNN algorithm search"); }) == CUDNN_STATUS_SUCCESS;
    } catch (const OutOfMemoryError& error) {
      log_warning(error.what(), "; choosing by cuDNN's heuristics instead");
    }
    if (measured && pick(results, returned, plan)) return true;
  }
  heuristic(kCount, &returned, results);
  return pick(results, returned, plan);
}

bool choose_algorithm(cudnnHandle_t handle, const ConvKey& key, ConvPlan& plan) {
  switch (key.pass) {
    case ConvPass::Forward:
      return choose<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(
          key, plan,
          [&](int count, int* returned, auto* results) {
            return cudnnFindConvolutionForwardAlgorithm(handle, plan.x, plan.w, plan.conv, plan.y, count, returned,
                                                        results);
          },
          [&](int count, int* returned, auto* results) {
            CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, plan.x, plan.w, plan.conv, plan.y, count,
                                                               returned, results));
          });
    case ConvPass::BackwardData:
      return choose<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
          key, plan,
          [&](int count, int* returned, auto* results) {
            return cudnnFindConvolutionBackwardDataAlgorithm(handle, plan.w, plan.y, plan.conv, plan.x, count, returned,
                                                             results);
          },
          [&](int count, int* returned, auto* results) {
            CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, plan.w, plan.y, plan.conv, plan.x, count,
                                                                    returned, results));
          });
    case ConvPass::BackwardFilter:
      return choose<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
          key, plan,
          [&](int count, int* returned, auto* results) {
            return cudnnFindConvolutionBackwardFilterAlgorithm(handle, plan.x, plan.y, plan.conv, plan.w, count,
                                                               returned, results);
          },
          [&](int count, int* returned, auto* results) {
            CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, plan.x, plan.y, plan.conv, plan.w, count,
                                                                      returned, results));
          });
  }
  return false;  // every pass is handled above
}

ConvPlan make_plan(cudnnHandle_t handle, const ConvKey& key) {
  const ConvShape& s = key.shape;
  ConvPlan plan;
  plan.types = conv_types(key.dtype);
  const cudnnDataType_t type = plan.types.data;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.x));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.x, CUDNN_TENSOR_NHWC, type, to_int(s.batch), to_int(s.in_channels),
                                         to_int(s.height), to_int(s.width)));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.y));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan.y, CUDNN_TENSOR_NHWC, type, to_int(s.batch), to_int(s.out_channels),
                                         to_int(s.out_height()), to_int(s.out_width())));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan.w));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan.w, type, CUDNN_TENSOR_NHWC, to_int(s.out_channels), to_int(s.in_channels),
                                         to_int(s.kernel_h), to_int(s.kernel_w)));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan.conv));
  // Cross-correlation, as the CPU backend computes; fp32 accumulation for every dtype (conv_types).
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan.conv, s.pad_h, s.pad_w, s.stride, s.stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, plan.types.compute));
  CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, key.dtype == DType::F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  plan.usable = choose_algorithm(handle, key, plan);
  DIFFUSE_CHECK(plan.usable || key.dtype != DType::F32, "conv2d: cuDNN has no algorithm for this convolution (",
                s.batch, "x", s.height, "x", s.width, "x", s.in_channels, " -> ", s.out_channels, " channels, kernel ",
                s.kernel_h, "x", s.kernel_w, ") within ", kWorkspaceLimit >> 20,
                " MiB of workspace; try a smaller batch");
  if (!plan.usable)
    log_warning("conv2d: cuDNN has no ", dtype_name(key.dtype), " algorithm for ", s.batch, "x", s.height, "x", s.width,
                "x", s.in_channels, " -> ", s.out_channels, " channels, kernel ", s.kernel_h, "x", s.kernel_w,
                "; that convolution runs in fp32");
  // Run with the math the algorithm was measured with; fp32 keeps FMA math so it never runs as TF32.
  if (plan.usable && key.dtype != DType::F32) CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, plan.math));
  if (plan.usable && log_algorithms()) {
    log_info(describe(key), ": cuDNN algorithm ", plan.algorithm,
             plan.math == CUDNN_TENSOR_OP_MATH ? " (tensor ops)" : "", ", workspace ", plan.workspace_bytes >> 20,
             " MiB");
  }
  return plan;
}

// The context's workspace, grown to the plan's size; when the device is out
// of memory for it, the pool is trimmed and the allocation retried once.
void* workspace_for(DeviceContext& device, const ConvPlan& plan, ConvPass pass, DType dtype, const ConvShape& shape) {
  return with_memory_retry([&] { return device.workspace(plan.workspace_bytes); }, release_cached_memory,
                           [&] {
                             return concat(describe(ConvKey{device.device(), pass, dtype, shape}),
                                           ": cuDNN workspace of ", plan.workspace_bytes >> 20, " MiB");
                           });
}

// The cached plan for a pass; made (and timed) on first use.
const ConvPlan& plan_for(DeviceContext& device, ConvPass pass, DType dtype, const ConvShape& shape) {
  static std::mutex mutex;
  static std::map<ConvKey, ConvPlan> plans;  // never freed: descriptors live as long as the process
  const ConvKey key{device.device(), pass, dtype, shape};
  std::lock_guard<std::mutex> lock(mutex);
  auto found = plans.find(key);
  if (found == plans.end()) found = plans.emplace(key, make_plan(device.cudnn(), key)).first;
  return found->second;
}

ConvShape shape_of(const Tensor& x, const Tensor& weight, const Conv2dWindow& window) {
  return ConvShape{x.dim(0),      x.dim(1),      x.dim(2),      x.dim(3),     weight.dim(0),
                   weight.dim(1), weight.dim(2), window.stride, window.pad_h, window.pad_w};
}

// What a pass multiplies in: the product dtype of the activations (core/matmul_precision.h), or fp32 where cuDNN
// has no algorithm for that type and shape.
DType pass_type(DeviceContext& device, ConvPass pass, const ConvShape& shape, DType activations) {
  const DType wanted = product_dtype(activations);
  if (wanted == DType::F32 || plan_for(device, pass, wanted, shape).usable) return wanted;
  return DType::F32;
}

void forward(DeviceContext& device, DType dtype, const ConvShape& shape, const void* x, const void* w, void* y) {
  const ConvPlan& plan = plan_for(device, ConvPass::Forward, dtype, shape);
  void* workspace = workspace_for(device, plan, ConvPass::Forward, dtype, shape);
  const float alpha = 1.0f, beta = 0.0f;
  record_call(call_types(LibraryCall::ConvForward, plan.types));
  CUDNN_CHECK(cudnnConvolutionForward(device.cudnn(), &alpha, plan.x, x, plan.w, w, plan.conv,
                                      static_cast<cudnnConvolutionFwdAlgo_t>(plan.algorithm), workspace,
                                      plan.workspace_bytes, &beta, plan.y, y));
}

void backward_data(DeviceContext& device, DType dtype, const ConvShape& shape, const void* w, const void* dy,
                   void* dx) {
  const ConvPlan& plan = plan_for(device, ConvPass::BackwardData, dtype, shape);
  void* workspace = workspace_for(device, plan, ConvPass::BackwardData, dtype, shape);
  const float alpha = 1.0f, beta = 0.0f;
  record_call(call_types(LibraryCall::ConvBackwardData, plan.types));
  CUDNN_CHECK(cudnnConvolutionBackwardData(device.cudnn(), &alpha, plan.w, w, plan.y, dy, plan.conv,
                                           static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algorithm), workspace,
                                           plan.workspace_bytes, &beta, plan.x, dx));
}

// dw = beta * dw + (filter gradient).
void backward_filter(DeviceContext& device, DType dtype, const ConvShape& shape, const void* x, const void* dy,
                     float beta, void* dw) {
  const ConvPlan& plan = plan_for(device, ConvPass::BackwardFilter, dtype, shape);
  void* workspace = workspace_for(device, plan, ConvPass::BackwardFilter, dtype, shape);
  const float alpha = 1.0f;
  record_call(call_types(LibraryCall::ConvBackwardFilter, plan.types));
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(device.cudnn(), &alpha, plan.x, x, plan.y, dy, plan.conv,
                                             static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algorithm), workspace,
                                             plan.workspace_bytes, &beta, plan.w, dw));
}

}  // namespace

void CudaBackend::conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                                 const Tensor& y, const Conv2dWindow& window) {
  DeviceContext& device = context();
  const ConvShape shape = shape_of(x, weight, window);
  if (shape.batch == 0) return;  // nothing to write (cuDNN refuses empty descriptors)
  const DType dtype = pass_type(device, ConvPass::Forward, shape, x.dtype());
  const int64_t pixels = shape.batch * shape.out_height() * shape.out_width();
  const float* bias_data = bias.defined() ? static_cast<const float*>(bias.raw()) : nullptr;
  const void* residual_data = residual.defined() ? residual.raw() : nullptr;
  const Tensor x_op = cast_copy(x, dtype), w_op = cast_copy(weight, dtype);
  // The product goes straight into y when it has y's type (bias and skip connection then added in place).
  const Tensor product = dtype == y.dtype() ? y : Tensor::empty(y.shape(), dtype, Device::CUDA);
  forward(device, dtype, shape, x_op.raw(), w_op.raw(), product.raw());
  bias_epilogue(product.raw(), dtype, bias_data, residual_data, pixels, shape.out_channels, y.raw(), y.dtype());
}

void CudaBackend::conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                  const Tensor& dweight, const Tensor& dbias, const Conv2dWindow& window) {
  DeviceContext& device = context();
  const ConvShape shape = shape_of(x, weight, window);
  if (shape.batch == 0) return;  // nothing to write; parameter gradients unchanged
  const int64_t pixels = shape.batch * shape.out_height() * shape.out_width();
  if (dbias.defined())
    column_sums(dy.raw(), dy.dtype(), 1, pixels, shape.out_channels, static_cast<float*>(dbias.raw()),
                Reduce::Accumulate);
  Tensor dy_op;  // dy in the operand type, made once for both passes
  if (dx.defined()) {
    const DType dtype = pass_type(device, ConvPass::BackwardData, shape, x.dtype());
    dy_op = cast_copy(dy, dtype);
    const Tensor w_op = cast_copy(weight, dtype);
    const Tensor product = dtype == dx.dtype() ? dx : Tensor::empty(dx.shape(), dtype, Device::CUDA);
    backward_data(device, dtype, shape, w_op.raw(), dy_op.raw(), product.raw());
    bias_epilogue(product.raw(), dtype, nullptr, nullptr, shape.batch * shape.height * shape.width, shape.in_channels,
                  dx.raw(), dx.dtype());
  }
  if (dweight.defined()) {  // dweight is fp32 whatever the activations' type
    const DType dtype = pass_type(device, ConvPass::BackwardFilter, shape, x.dtype());
    if (!dy_op.defined() || dy_op.dtype() != dtype) dy_op = cast_copy(dy, dtype);
    const Tensor x_op = cast_copy(x, dtype);
    if (dtype == DType::F32) {
      backward_filter(device, dtype, shape, x_op.raw(), dy_op.raw(), 1.0f, dweight.raw());
    } else {
      // cuDNN's filter gradient has the filter descriptor's type, which must be the data's (no fp32 output for
      // bf16/f16 data in this API): each call's gradient, accumulated in fp32 inside cuDNN, lands in an explicit
      // buffer of the operand type and is added into the fp32 gradient, which accumulates across calls in fp32.
      const Tensor dw_low = Tensor::empty(weight.shape(), dtype, Device::CUDA);
      backward_filter(device, dtype, shape, x_op.raw(), dy_op.raw(), 0.0f, dw_low.raw());
      add_widened(dw_low.raw(), dtype, static_cast<float*>(dweight.raw()), weight.numel());
    }
  }
}

}  // namespace diffuse::cuda
