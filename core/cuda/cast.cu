// Element type conversion on the GPU between f32, bf16 and f16 (the cast op),
// the operand copies bf16/fp16 matrix products read, and folding a low-precision
// gradient into an fp32 one. Conversions are core/half.h's, so they round
// exactly as the CPU backend does (bf16 <-> f16 goes through f32: one rounding).
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/cuda/kernels.h"

namespace diffuse::cuda {

namespace {

template <typename In, typename Out>
__global__ void convert_kernel(const In* in, Out* out, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) out[i] = from_float<Out>(to_float(in[i]));
}

template <typename In>
__global__ void add_widened_kernel(const In* in, float* out, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) out[i] += to_float(in[i]);
}

template <typename In, typename Out>
void launch_convert(const void* in, void* out, int64_t count) {
  launch_kernel(convert_kernel<In, Out>, grid_for(count), kThreads, static_cast<const In*>(in), static_cast<Out*>(out),
                count);
}

template <typename In>
void convert_from(const void* in, void* out, DType out_type, int64_t count) {
  switch (out_type) {
    case DType::BF16:
      return launch_convert<In, bf16>(in, out, count);
    case DType::F16:
      return launch_convert<In, f16>(in, out, count);
    default:
      return launch_convert<In, float>(in, out, count);
  }
}

void convert(const void* in, DType in_type, void* out, DType out_type, int64_t count) {
  if (count == 0) return;
  DIFFUSE_CHECK(in_type != DType::I32 && out_type != DType::I32, "cast supports f32, bf16 and f16");
  if (in_type == out_type) {
    if (in != out)
      CUDA_CHECK(cudaMemcpyAsync(out, in, static_cast<size_t>(count) * dtype_size(in_type), cudaMemcpyDeviceToDevice,
                                 stream()));
    return;
  }
  switch (in_type) {
    case DType::BF16:
      return convert_from<bf16>(in, out, out_type, count);
    case DType::F16:
      return convert_from<f16>(in, out, out_type, count);
    default:
      return convert_from<float>(in, out, out_type, count);
  }
}

}  // namespace

void CudaBackend::cast(const Tensor& source, const Tensor& destination) {
  convert(source.raw(), source.dtype(), destination.raw(), destination.dtype(), source.numel());
}

Tensor cast_copy(const Tensor& source, DType dtype) {
  if (source.dtype() == dtype) return source;
  Tensor copy = Tensor::empty(source.shape(), dtype, kKernelDevice);
  convert(source.raw(), source.dtype(), copy.raw(), dtype, source.numel());
  return copy;
}

Tensor f32_result(const Tensor& output) {
  return output.dtype() == DType::F32 ? output : Tensor::empty(output.shape(), DType::F32, kKernelDevice);
}

void round_into(const Tensor& result, const Tensor& output) {
  if (result.raw() != output.raw()) convert(result.raw(), result.dtype(), output.raw(), output.dtype(), result.numel());
}

void add_widened(const void* x, DType x_type, float* y, int64_t count) {
  if (count == 0) return;
  switch (x_type) {
    case DType::BF16:
      launch_kernel(add_widened_kernel<bf16>, grid_for(count), kThreads, static_cast<const bf16*>(x), y, count);
      break;
    case DType::F16:
      launch_kernel(add_widened_kernel<f16>, grid_for(count), kThreads, static_cast<const f16*>(x), y, count);
      break;
    default:
      launch_kernel(add_widened_kernel<float>, grid_for(count), kThreads, static_cast<const float*>(x), y, count);
      break;
  }
}

}  // namespace diffuse::cuda
