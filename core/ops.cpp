// Argument validation for every op, then dispatch to the device's backend.
// Messages name the op, the offending argument and all arguments' shapes.
#include "core/ops.h"

#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/on_device.h"
#include "core/op_profile.h"

namespace diffuse::ops {

namespace {

// The named tensor arguments of one op call, for validation and messages.
// Lives for the whole op call, so it also times the call when op profiling is on.
class OpArgs {
 public:
  using Names = std::vector<const char*>;

  OpArgs(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> args) : op_(op), args_(args) {
    if (op_profiling()) timer_.emplace(op, device_clock(first_device()));
  }
  OpArgs(const OpArgs&) = delete;
  OpArgs& operator=(const OpArgs&) = delete;

  [[noreturn]] void reject(const std::string& problem) const {
    std::string listing;
    for (const auto& [name, tensor] : args_) listing += concat(" ", name, "=", tensor->describe());
    throw Error(concat(op_, ": ", problem, " (arguments:", listing, ")"));
  }

  void require(bool condition, const std::string& problem) const {
    if (!condition) reject(problem);
  }

  const Tensor& get(const char* name) const {
    for (const auto& [arg, tensor] : args_)
      if (std::string(arg) == name) return *tensor;
    throw Error(concat(op_, ": internal error, no argument named ", name));
  }

  void defined(const char* name) const { require(get(name).defined(), concat(name, " is required")); }

  void shape(const char* name, const Shape& expected) const {
    const Tensor& tensor = get(name);
    require(tensor.defined(), concat(name, " is required"));
    require(tensor.shape() == expected,
            concat(name, " has shape ", shape_string(tensor.shape()), ", expected ", shape_string(expected)));
  }

  // Same shape as another argument, if defined.
  void optional_shape(const char* name, const Shape& expected) const {
    if (get(name).defined()) shape(name, expected);
  }

  void rank(const char* name, int expected) const {
    const Tensor& tensor = get(name);
    require(tensor.defined(), concat(name, " is required"));
    require(tensor.rank() == expected, concat(name, " must have rank ", expected, ", got ", tensor.rank()));
  }

  // All defined arguments on one device, with their dtypes: the `activations` share one float dtype (f32, bf16 or
  // f16: that of the first of them defined), the `weights` are f32 or that dtype (a low-precision copy of fp32
  // master weights), the `ints` are i32 and every other argument (parameters, their gradients, statistics) is f32.
  Device common_device(const Names& activations, const Names& ints, const Names& weights = {}) const {
    const char* first_activation = nullptr;
    for (const char* name : activations)
      if (get(name).defined()) {
        first_activation = name;
        break;
      }
    const DType activation_dtype = first_activation != nullptr ? get(first_activation).dtype() : DType::F32;
    if (first_activation != nullptr)
      require(activation_dtype != DType::I32, concat(first_activation, " has dtype i32, expected f32, bf16 or f16"));
    const Tensor* first = nullptr;
    for (const auto& [name, tensor] : args_) {
      if (!tensor->defined()) continue;
      if (listed(activations, name)) {
        if (std::string(name) != first_activation)
          require_dtype(name, *tensor, activation_dtype, concat(" like ", first_activation));
      } else if (listed(weights, name) && activation_dtype != DType::F32) {
        require(tensor->dtype() == activation_dtype || tensor->dtype() == DType::F32,
                concat(name, " has dtype ", dtype_name(tensor->dtype()), ", expected ", dtype_name(activation_dtype),
                       " or f32", tensor->dtype() != DType::I32 ? " (convert it with ops::cast)" : ""));
      } else {
        require_dtype(name, *tensor, listed(ints, name) ? DType::I32 : DType::F32, "");
      }
      if (first == nullptr) first = tensor;
      require(tensor->device() == first->device(), "arguments are on different devices (copy them to one device)");
    }
    require(first != nullptr, "no tensor arguments");
    return first->device();
  }

  Backend& backend(const Names& activations = {}, const Names& ints = {}) const {
    return backend_on(common_device(activations, ints));
  }

  // The backend of a matrix-product op (conv2d, linear, attention): the activations (`activation` sets the
  // dtype, every argument not listed below shares it) are f32, bf16 or f16 (f16 on the GPU only), the weights
  // f32 or the activation dtype, and `f32_args` (biases, parameter gradients, softmax probabilities) f32.
  Backend& product_backend(const char* activation, const Names& weight_args, const Names& f32_args) const {
    Names activations{activation};
    for (const auto& [name, tensor] : args_)
      if (name != std::string(activation) && !listed(weight_args, name) && !listed(f32_args, name))
        activations.push_back(name);
    const Device device = common_device(activations, {}, weight_args);
    const Tensor& reference = get(activation);
    require(device != Device::CPU || !reference.defined() || reference.dtype() != DType::F16,
            concat(activation, " has dtype f16: the CPU backend has no f16 products (use bf16 or f32)"));
    return backend_on(device);
  }

 private:
  Backend& backend_on(Device device) const {
    try {
      return backend_for(device);
    } catch (const Error& error) {
      reject(error.what());
    }
  }

  const char* op_;
  std::vector<std::pair<const char*, const Tensor*>> args_;
  std::optional<OpTimer> timer_;  // while profiling: times the op until the call ends

  static bool listed(const Names& names, const char* name) {
    for (const char* listed_name : names)
      if (std::string(listed_name) == name) return true;
    return false;
  }

  // `which` says whose dtype `expected` is, when it is another argument's.
  void require_dtype(const char* name, const Tensor& tensor, DType expected, const std::string& which) const {
    const bool castable = expected != DType::I32 && tensor.dtype() != DType::I32;
    require(tensor.dtype() == expected,
            concat(name, " has dtype ", dtype_name(tensor.dtype()), ", expected ", dtype_name(expected), which,
                   castable ? " (convert it with ops::cast)" : ""));
  }

  // Where the op runs, for its timing; the CPU if it has no defined tensor (validation rejects it then).
  Device first_device() const {
    for (const auto& [name, tensor] : args_)
      if (tensor->defined()) return tensor->device();
    return Device::CPU;
  }
};

#define ARG(t) std::pair<const char*, const Tensor*>(#t, &t)

}  // namespace

namespace {

// Output extent of a window sweep along one axis (may be <= 0 when the input is too small).
int64_t swept_extent(int64_t input, int64_t kernel, int64_t stride, int64_t padding) {
  if (input + 2 * padding < kernel) return 0;  // C++ division truncates towards zero: -1 / 2 + 1 would be 1
  return (input + 2 * padding - kernel) / stride + 1;
}

// The output shape of a convolution after checking its geometry.
Shape conv_output_shape(const OpArgs& args, const Tensor& x, const Tensor& weight, const Conv2dWindow& window) {
  args.rank("x", 4);
  args.rank("weight", 4);
  const int64_t kh = weight.dim(1), kw = weight.dim(2);
  args.require(window.stride >= 1 && window.pad_h >= 0 && window.pad_w >= 0 && window.pad_h < kh && window.pad_w < kw,
               concat("unsupported geometry kernel ", kh, "x", kw, " stride ", window.stride, " padding ", window.pad_h,
                      ",", window.pad_w, " (needs stride >= 1 and 0 <= padding < kernel)"));
  args.shape("weight", {weight.dim(0), kh, kw, x.dim(3)});
  const int64_t ho = swept_extent(x.dim(1), kh, window.stride, window.pad_h);
  const int64_t wo = swept_extent(x.dim(2), kw, window.stride, window.pad_w);
  args.require(ho > 0 && wo > 0, concat("input smaller than the kernel: ", x.dim(1), "x", x.dim(2), " padded by ",
                                        window.pad_h, ",", window.pad_w, " is smaller than ", kh, "x", kw));
  return {x.dim(0), ho, wo, weight.dim(0)};
}

// The output shape of a pooling window over x [N,H,W,C] (rank checked by the caller) after checking it.
Shape pool_output_shape(const OpArgs& args, const Shape& x, const Pool2dWindow& window) {
  args.require(window.kernel >= 1 && window.stride >= 1 && window.padding >= 0 && window.padding < window.kernel,
               concat("unsupported window kernel ", window.kernel, " stride ", window.stride, " padding ",
                      window.padding, " (needs stride >= 1 and 0 <= padding < kernel)"));
  const int64_t ho = swept_extent(x[1], window.kernel, window.stride, window.padding);
  const int64_t wo = swept_extent(x[2], window.kernel, window.stride, window.padding);
  args.require(ho > 0 && wo > 0, concat("input smaller than the window: ", x[1], "x", x[2], " padded by ",
                                        window.padding, " is smaller than ", window.kernel, "x", window.kernel));
  return {x[0], ho, wo, x[3]};
}

// x [N,H,W,C] with C split into `groups`, gamma [C] and the statistics [N,groups]: what every group norm op reads.
void check_group_norm_input(const OpArgs& args, const Tensor& x, int groups) {
  args.rank("x", 4);
  const int64_t c = x.dim(3);
  args.require(groups > 0 && c % groups == 0, concat(c, " channels are not divisible into ", groups, " groups"));
  args.shape("gamma", {c});
  args.shape("mean", {x.dim(0), groups});
  args.shape("rstd", {x.dim(0), groups});
}

void check_group_norm_forward(const OpArgs& args, const Tensor& x, int groups, float eps) {
  check_group_norm_input(args, x, groups);
  args.require(eps > 0, "eps must be positive");
  args.shape("beta", {x.dim(3)});
  args.shape("y", x.shape());
}

void check_group_norm_backward(const OpArgs& args, const Tensor& x, int groups) {
  check_group_norm_input(args, x, groups);
  args.shape("dy", x.shape());
  args.optional_shape("dx", x.shape());
  args.optional_shape("dgamma", {x.dim(3)});
  args.optional_shape("dbeta", {x.dim(3)});
}

void check_dropout_probability(const OpArgs& args, float p) {
  args.require(p >= 0.0f && p < 1.0f, concat("dropout probability ", p, " is outside [0, 1)"));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                    const Conv2dWindow& window, const Tensor& residual) {
  const OpArgs args("conv2d_forward", {ARG(x), ARG(weight), ARG(bias), ARG(y), ARG(residual)});
  const Shape out = conv_output_shape(args, x, weight, window);
  args.optional_shape("bias", {weight.dim(0)});
  args.shape("y", out);
  args.optional_shape("residual", out);
  args.require(!residual.defined() || residual.raw() != y.raw(), "residual must not be y's memory");
  args.product_backend("x", {"weight"}, {"bias"}).conv2d_forward(x, weight, bias, residual, y, window);
}

void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,
                     const Tensor& dbias, const Conv2dWindow& window) {
  const OpArgs args("conv2d_backward", {ARG(x), ARG(weight), ARG(dy), ARG(dx), ARG(dweight), ARG(dbias)});
  const Shape out = conv_output_shape(args, x, weight, window);
  args.shape("dy", out);
  args.optional_shape("dx", x.shape());
  args.optional_shape("dweight", weight.shape());
  args.optional_shape("dbias", {weight.dim(0)});
  args.product_backend("x", {"weight"}, {"dweight", "dbias"})
      .conv2d_backward(x, weight, dy, dx, dweight, dbias, window);
}

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  const OpArgs args("linear_forward", {ARG(x), ARG(weight), ARG(bias), ARG(y)});
  args.rank("x", 2);
  args.rank("weight", 2);
  args.shape("weight", {weight.dim(0), x.dim(1)});
  args.optional_shape("bias", {weight.dim(0)});
  args.shape("y", {x.dim(0), weight.dim(0)});
  args.product_backend("x", {"weight"}, {"bias"}).linear_forward(x, weight, bias, y);
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx, const Tensor& dweight,
                     const Tensor& dbias) {
  const OpArgs args("linear_backward", {ARG(x), ARG(weight), ARG(dy), ARG(dx), ARG(dweight), ARG(dbias)});
  args.rank("x", 2);
  args.rank("weight", 2);
  args.shape("weight", {weight.dim(0), x.dim(1)});
  args.shape("dy", {x.dim(0), weight.dim(0)});
  args.optional_shape("dx", x.shape());
  args.optional_shape("dweight", weight.shape());
  args.optional_shape("dbias", {weight.dim(0)});
  args.product_backend("x", {"weight"}, {"dweight", "dbias"}).linear_backward(x, weight, dy, dx, dweight, dbias);
}

void group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                        const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const OpArgs args("group_norm_forward", {ARG(x), ARG(gamma), ARG(beta), ARG(y), ARG(mean), ARG(rstd)});
  check_group_norm_forward(args, x, groups, eps);
  args.backend({"x", "y"}).group_norm_forward(x, gamma, beta, groups, eps, y, mean, rstd);
}

void group_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int groups,
                         const Tensor& dy, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  const OpArgs args("group_norm_backward",
                    {ARG(x), ARG(gamma), ARG(mean), ARG(rstd), ARG(dy), ARG(dx), ARG(dgamma), ARG(dbeta)});
  check_group_norm_backward(args, x, groups);
  args.backend({"x", "dy", "dx"}).group_norm_backward(x, gamma, mean, rstd, groups, dy, dx, dgamma, dbeta);
}

void group_norm_silu_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                             const Dropout& dropout, const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const OpArgs args("group_norm_silu_forward", {ARG(x), ARG(gamma), ARG(beta), ARG(y), ARG(mean), ARG(rstd)});
  check_group_norm_forward(args, x, groups, eps);
  check_dropout_probability(args, dropout.p);
  args.backend({"x", "y"}).group_norm_silu_forward(x, gamma, beta, groups, eps, dropout, y, mean, rstd);
}

void group_norm_silu_backward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                              const Tensor& rstd, int groups, const Dropout& dropout, const Tensor& dy,
                              const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  const OpArgs args("group_norm_silu_backward",
                    {ARG(x), ARG(gamma), ARG(beta), ARG(mean), ARG(rstd), ARG(dy), ARG(dx), ARG(dgamma), ARG(dbeta)});
  check_group_norm_backward(args, x, groups);
  args.shape("beta", {x.dim(3)});
  check_dropout_probability(args, dropout.p);
  args.backend({"x", "dy", "dx"})
      .group_norm_silu_backward(x, gamma, beta, mean, rstd, groups, dropout, dy, dx, dgamma, dbeta);
}

void silu_forward(const Tensor& x, const Tensor& y) {
  const OpArgs args("silu_forward", {ARG(x), ARG(y)});
  args.defined("x");
  args.shape("y", x.shape());
  args.backend({"x", "y"}).silu_forward(x, y);
}

void silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const OpArgs args("silu_backward", {ARG(x), ARG(dy), ARG(dx)});
  args.defined("x");
  args.shape("dy", x.shape());
  args.shape("dx", x.shape());
  args.backend({"x", "dy", "dx"}).silu_backward(x, dy, dx);
}

void relu_forward(const Tensor& x, const Tensor& y) {
  const OpArgs args("relu_forward", {ARG(x), ARG(y)});
  args.defined("x");
  args.shape("y", x.shape());
  args.backend({"x", "y"}).relu_forward(x, y);
}

void relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const OpArgs args("relu_backward", {ARG(x), ARG(dy), ARG(dx)});
  args.defined("x");
  args.shape("dy", x.shape());
  args.shape("dx", x.shape());
  args.backend({"x", "dy", "dx"}).relu_backward(x, dy, dx);
}

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  const OpArgs args("max_pool2d_forward", {ARG(x), ARG(y)});
  args.rank("x", 4);
  args.shape("y", pool_output_shape(args, x.shape(), window));
  args.backend({"x", "y"}).max_pool2d_forward(x, y, window);
}

void max_pool2d_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  const OpArgs args("max_pool2d_backward", {ARG(x), ARG(dy), ARG(dx)});
  args.rank("x", 4);
  args.shape("dy", pool_output_shape(args, x.shape(), window));
  args.shape("dx", x.shape());
  args.backend({"x", "dy", "dx"}).max_pool2d_backward(x, dy, dx, window);
}

void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  const OpArgs args("avg_pool2d_forward", {ARG(x), ARG(y)});
  args.rank("x", 4);
  args.shape("y", pool_output_shape(args, x.shape(), window));
  args.backend({"x", "y"}).avg_pool2d_forward(x, y, window);
}

void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  const OpArgs args("avg_pool2d_backward", {ARG(dy), ARG(dx)});
  args.rank("dx", 4);
  args.shape("dy", pool_output_shape(args, dx.shape(), window));
  args.backend({"dy", "dx"}).avg_pool2d_backward(dy, dx, window);
}

void global_avg_pool_forward(const Tensor& x, const Tensor& y) {
  const OpArgs args("global_avg_pool_forward", {ARG(x), ARG(y)});
  args.rank("x", 4);
  args.require(x.dim(1) * x.dim(2) > 0, "x has no pixels");
  args.shape("y", {x.dim(0), x.dim(3)});
  args.backend({"x", "y"}).global_avg_pool_forward(x, y);
}

void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) {
  const OpArgs args("global_avg_pool_backward", {ARG(dy), ARG(dx)});
  args.rank("dx", 4);
  args.require(dx.dim(1) * dx.dim(2) > 0, "dx has no pixels");
  args.shape("dy", {dx.dim(0), dx.dim(3)});
  args.backend({"dy", "dx"}).global_avg_pool_backward(dy, dx);
}

void resize_bilinear_forward(const Tensor& x, const Tensor& y) {
  const OpArgs args("resize_bilinear_forward", {ARG(x), ARG(y)});
  args.rank("x", 4);
  args.rank("y", 4);
  args.require(x.dim(1) > 0 && x.dim(2) > 0 && y.dim(1) > 0 && y.dim(2) > 0, "images must not be empty");
  args.shape("y", {x.dim(0), y.dim(1), y.dim(2), x.dim(3)});
  args.backend({"x", "y"}).resize_bilinear_forward(x, y);
}

void resize_bilinear_backward(const Tensor& dy, const Tensor& dx) {
  const OpArgs args("resize_bilinear_backward", {ARG(dy), ARG(dx)});
  args.rank("dy", 4);
  args.rank("dx", 4);
  args.require(dx.dim(1) > 0 && dx.dim(2) > 0 && dy.dim(1) > 0 && dy.dim(2) > 0, "images must not be empty");
  args.shape("dy", {dx.dim(0), dy.dim(1), dy.dim(2), dx.dim(3)});
  args.backend({"dy", "dx"}).resize_bilinear_backward(dy, dx);
}

void upsample_nearest2x_forward(const Tensor& x, const Tensor& y) {
  const OpArgs args("upsample_nearest2x_forward", {ARG(x), ARG(y)});
  args.rank("x", 4);
  args.shape("y", {x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)});
  args.backend({"x", "y"}).upsample_nearest2x_forward(x, y);
}

void upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx) {
  const OpArgs args("upsample_nearest2x_backward", {ARG(dy), ARG(dx)});
  args.rank("dx", 4);
  args.shape("dy", {dx.dim(0), 2 * dx.dim(1), 2 * dx.dim(2), dx.dim(3)});
  args.backend({"dy", "dx"}).upsample_nearest2x_backward(dy, dx);
}

void concat_channels(const Tensor& a, const Tensor& b, const Tensor& y) {
  const OpArgs args("concat_channels", {ARG(a), ARG(b), ARG(y)});
  args.rank("a", 4);
  args.shape("b", {a.dim(0), a.dim(1), a.dim(2), b.rank() == 4 ? b.dim(3) : -1});
  args.shape("y", {a.dim(0), a.dim(1), a.dim(2), a.dim(3) + b.dim(3)});
  args.backend({"a", "b", "y"}).concat_channels(a, b, y);
}

void split_channels(const Tensor& y, const Tensor& a, const Tensor& b) {
  const OpArgs args("split_channels", {ARG(y), ARG(a), ARG(b)});
  args.rank("y", 4);
  args.require(a.defined() || b.defined(), "a or b is required");
  if (a.defined()) args.rank("a", 4);
  if (b.defined()) args.rank("b", 4);
  const int64_t ca = a.defined() ? a.dim(-1) : y.dim(3) - b.dim(-1);
  args.require(0 <= ca && ca <= y.dim(3), concat("split at channel ", ca, " is out of range"));
  args.optional_shape("a", {y.dim(0), y.dim(1), y.dim(2), ca});
  args.optional_shape("b", {y.dim(0), y.dim(1), y.dim(2), y.dim(3) - ca});
  args.backend({"y", "a", "b"}).split_channels(y, a, b);
}

void add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) {
  const OpArgs args("add_channel_vector_forward", {ARG(x), ARG(v), ARG(y)});
  args.rank("x", 4);
  args.shape("v", {x.dim(0), x.dim(3)});
  args.shape("y", x.shape());
  args.backend({"x", "y"}).add_channel_vector_forward(x, v, y);
}

void add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) {
  const OpArgs args("add_channel_vector_backward", {ARG(dy), ARG(dx), ARG(dv)});
  args.rank("dy", 4);
  args.optional_shape("dx", dy.shape());
  args.shape("dv", {dy.dim(0), dy.dim(3)});
  args.backend({"dy", "dx"}).add_channel_vector_backward(dy, dx, dv);
}

void scale_shift_channels_forward(const Tensor& x, const Tensor& scale_shift, const Tensor& y) {
  const OpArgs args("scale_shift_channels_forward", {ARG(x), ARG(scale_shift), ARG(y)});
  args.rank("x", 4);
  args.shape("scale_shift", {x.dim(0), 2 * x.dim(3)});
  args.shape("y", x.shape());
  args.backend({"x", "y"}).scale_shift_channels_forward(x, scale_shift, y);
}

void scale_shift_channels_backward(const Tensor& x, const Tensor& scale_shift, const Tensor& dy, const Tensor& dx,
                                   const Tensor& dscale_shift) {
  const OpArgs args("scale_shift_channels_backward", {ARG(x), ARG(scale_shift), ARG(dy), ARG(dx), ARG(dscale_shift)});
  args.rank("x", 4);
  args.shape("scale_shift", {x.dim(0), 2 * x.dim(3)});
  args.shape("dy", x.shape());
  args.optional_shape("dx", x.shape());
  args.optional_shape("dscale_shift", scale_shift.shape());
  args.backend({"x", "dy", "dx"}).scale_shift_channels_backward(x, scale_shift, dy, dx, dscale_shift);
}

void add(const Tensor& a, const Tensor& b, const Tensor& y) {
  const OpArgs args("add", {ARG(a), ARG(b), ARG(y)});
  args.defined("a");
  args.shape("b", a.shape());
  args.shape("y", a.shape());
  args.backend({"a", "b", "y"}).add(a, b, y);
}

void accumulate(const Tensor& y, const Tensor& x) {
  const OpArgs args("accumulate", {ARG(y), ARG(x)});
  args.defined("y");
  args.shape("x", y.shape());
  args.backend({"y", "x"}).accumulate(y, x);
}

void scale(const Tensor& x, float alpha, const Tensor& y) {
  const OpArgs args("scale", {ARG(x), ARG(y)});
  args.defined("x");
  args.shape("y", x.shape());
  args.backend({"x", "y"}).scale(x, alpha, y);
}

void fill_zero(const Tensor& x) {
  const OpArgs args("fill_zero", {ARG(x)});
  args.defined("x");
  backend_for(x.device()).fill_zero(x);
}

void combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b, const Tensor& y) {
  const OpArgs args("combine_per_sample", {ARG(p), ARG(a), ARG(q), ARG(b), ARG(y)});
  args.require(p.rank() >= 1, "p must have a batch axis");
  args.shape("a", {p.dim(0)});
  args.shape("q", p.shape());
  args.shape("b", {p.dim(0)});
  args.shape("y", p.shape());
  args.backend({"p", "q", "y"}).combine_per_sample(p, a, q, b, y);
}

void clamp(const Tensor& x, float low, float high, const Tensor& y) {
  const OpArgs args("clamp", {ARG(x), ARG(y)});
  args.require(low <= high, concat("low ", low, " exceeds high ", high));
  args.defined("x");
  args.shape("y", x.shape());
  args.backend({"x", "y"}).clamp(x, low, high, y);
}

namespace {

void check_attention_layout(const OpArgs& args, const Tensor& qkv, int heads) {
  args.rank("qkv", 3);
  args.require(qkv.dim(2) % 3 == 0, concat("qkv channels ", qkv.dim(2), " are not divisible by 3"));
  args.require(heads >= 1 && (qkv.dim(2) / 3) % heads == 0,
               concat("heads ", heads, " must be positive and divide the channels ", qkv.dim(2) / 3));
}

}  // namespace

void attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs, int heads) {
  const OpArgs args("attention_forward", {ARG(qkv), ARG(out), ARG(probs)});
  check_attention_layout(args, qkv, heads);
  const int64_t n = qkv.dim(0), l = qkv.dim(1), c = qkv.dim(2) / 3;
  args.shape("out", {n, l, c});
  args.shape("probs", {n * heads, l, l});
  args.product_backend("qkv", {}, {"probs"}).attention_forward(qkv, out, probs, heads);
}

void attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv, int heads) {
  const OpArgs args("attention_backward", {ARG(qkv), ARG(probs), ARG(dout), ARG(dqkv)});
  check_attention_layout(args, qkv, heads);
  const int64_t n = qkv.dim(0), l = qkv.dim(1), c = qkv.dim(2) / 3;
  args.shape("probs", {n * heads, l, l});
  args.shape("dout", {n, l, c});
  args.shape("dqkv", qkv.shape());
  args.product_backend("qkv", {}, {"probs"}).attention_backward(qkv, probs, dout, dqkv, heads);
}

void dropout_forward(const Tensor& x, float p, const DropoutKey& key, const Tensor& y) {
  const OpArgs args("dropout_forward", {ARG(x), ARG(y)});
  check_dropout_probability(args, p);
  args.require(x.rank() >= 1, "x must have a batch axis");
  args.shape("y", x.shape());
  args.backend({"x", "y"}).dropout_forward(x, p, key, y);
}

void dropout_backward(const Tensor& dy, float p, const DropoutKey& key, const Tensor& dx) {
  const OpArgs args("dropout_backward", {ARG(dy), ARG(dx)});
  check_dropout_probability(args, p);
  args.require(dy.rank() >= 1, "dy must have a batch axis");
  args.shape("dx", dy.shape());
  args.backend({"dy", "dx"}).dropout_backward(dy, p, key, dx);
}

void fill_normal(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step, uint32_t first_sample) {
  const OpArgs args("fill_normal", {ARG(tensor)});
  args.require(tensor.rank() >= 1, "tensor must have a batch axis");
  args.backend().fill_normal(tensor, seed, purpose, step, first_sample);
}

void fill_uniform(const Tensor& tensor, uint64_t seed, uint32_t purpose, uint32_t step, uint32_t first_sample) {
  const OpArgs args("fill_uniform", {ARG(tensor)});
  args.require(tensor.rank() >= 1, "tensor must have a batch axis");
  args.backend().fill_uniform(tensor, seed, purpose, step, first_sample);
}

void timestep_embedding_forward(const Tensor& t, const Tensor& out) {
  const OpArgs args("timestep_embedding_forward", {ARG(t), ARG(out)});
  args.rank("t", 1);
  args.rank("out", 2);
  args.require(out.dim(1) >= 4 && out.dim(1) % 2 == 0,
               concat("embedding width ", out.dim(1), " must be even and >= 4"));
  args.shape("out", {t.dim(0), out.dim(1)});
  args.backend().timestep_embedding_forward(t, out);
}

void timestep_embedding_backward(const Tensor& t, const Tensor& dout, const Tensor& dt) {
  const OpArgs args("timestep_embedding_backward", {ARG(t), ARG(dout), ARG(dt)});
  args.rank("t", 1);
  args.rank("dout", 2);
  args.require(dout.dim(1) >= 4 && dout.dim(1) % 2 == 0,
               concat("embedding width ", dout.dim(1), " must be even and >= 4"));
  args.shape("dout", {t.dim(0), dout.dim(1)});
  args.shape("dt", t.shape());
  args.backend().timestep_embedding_backward(t, dout, dt);
}

void embedding_forward(const Tensor& table, const Tensor& labels, const Tensor& out) {
  const OpArgs args("embedding_forward", {ARG(table), ARG(labels), ARG(out)});
  args.rank("table", 2);
  args.rank("labels", 1);
  args.shape("out", {labels.dim(0), table.dim(1)});
  args.backend({}, {"labels"}).embedding_forward(table, labels, out);
}

void embedding_backward(const Tensor& labels, const Tensor& dout, const Tensor& dtable) {
  const OpArgs args("embedding_backward", {ARG(labels), ARG(dout), ARG(dtable)});
  args.rank("dtable", 2);
  args.rank("labels", 1);
  args.shape("dout", {labels.dim(0), dtable.dim(1)});
  args.backend({}, {"labels"}).embedding_backward(labels, dout, dtable);
}

namespace {

// A step state, where an op reads or writes one (decide_step's output, the updates' and loss backwards' optional
// input).
void check_step_state(const OpArgs& args, const char* name) { args.shape(name, {kStepStateFloats}); }

}  // namespace

void mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights, const Tensor& per_sample) {
  const OpArgs args("mse_loss_forward", {ARG(pred), ARG(target), ARG(weights), ARG(per_sample)});
  args.require(pred.rank() >= 1 && pred.numel() > 0, "pred must be a non-empty batch");
  args.shape("target", pred.shape());
  args.shape("weights", {pred.dim(0)});
  args.shape("per_sample", {pred.dim(0)});
  args.backend().mse_loss_forward(pred, target, weights, per_sample);
}

void mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, const LossScale& loss_scale,
                       const Tensor& dpred) {
  const Tensor& scale_state = loss_scale.step_state;
  const OpArgs args("mse_loss_backward", {ARG(pred), ARG(target), ARG(weights), ARG(dpred), ARG(scale_state)});
  args.require(pred.rank() >= 1 && pred.numel() > 0, "pred must be a non-empty batch");
  args.shape("target", pred.shape());
  args.shape("weights", {pred.dim(0)});
  args.shape("dpred", pred.shape());
  if (scale_state.defined()) check_step_state(args, "scale_state");
  args.backend().mse_loss_backward(pred, target, weights, loss_scale, dpred);
}

void pseudo_huber_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                               const Tensor& per_sample) {
  const OpArgs args("pseudo_huber_loss_forward", {ARG(pred), ARG(target), ARG(weights), ARG(per_sample)});
  args.require(pred.rank() >= 1 && pred.numel() > 0, "pred must be a non-empty batch");
  args.require(c > 0.0f, concat("c must be positive, got ", c));
  args.shape("target", pred.shape());
  args.shape("weights", {pred.dim(0)});
  args.shape("per_sample", {pred.dim(0)});
  args.backend().pseudo_huber_loss_forward(pred, target, weights, c, per_sample);
}

void pseudo_huber_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                                const LossScale& loss_scale, const Tensor& dpred) {
  const Tensor& scale_state = loss_scale.step_state;
  const OpArgs args("pseudo_huber_loss_backward", {ARG(pred), ARG(target), ARG(weights), ARG(dpred), ARG(scale_state)});
  args.require(pred.rank() >= 1 && pred.numel() > 0, "pred must be a non-empty batch");
  args.require(c > 0.0f, concat("c must be positive, got ", c));
  args.shape("target", pred.shape());
  args.shape("weights", {pred.dim(0)});
  args.shape("dpred", pred.shape());
  if (scale_state.defined()) check_step_state(args, "scale_state");
  args.backend().pseudo_huber_loss_backward(pred, target, weights, c, loss_scale, dpred);
}

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& per_sample) {
  const OpArgs args("cross_entropy_forward", {ARG(logits), ARG(labels), ARG(per_sample)});
  args.rank("logits", 2);
  args.require(logits.dim(1) > 0, "logits need at least one class");
  args.shape("labels", {logits.dim(0)});
  args.shape("per_sample", {logits.dim(0)});
  args.backend({}, {"labels"}).cross_entropy_forward(logits, labels, per_sample);
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, float loss_scale, const Tensor& dlogits) {
  const OpArgs args("cross_entropy_backward", {ARG(logits), ARG(labels), ARG(dlogits)});
  args.rank("logits", 2);
  args.require(logits.dim(1) > 0, "logits need at least one class");
  args.shape("labels", {logits.dim(0)});
  args.shape("dlogits", logits.shape());
  args.backend({}, {"labels"}).cross_entropy_backward(logits, labels, loss_scale, dlogits);
}

void adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const AdamWStep& step,
                  const Tensor& decision) {
  const OpArgs args("adamw_update", {ARG(params), ARG(grads), ARG(m), ARG(v), ARG(decision)});
  args.rank("params", 1);
  args.shape("grads", params.shape());
  args.shape("m", params.shape());
  args.shape("v", params.shape());
  if (decision.defined()) check_step_state(args, "decision");
  args.require(step.step >= 1, concat("step ", step.step, " must be >= 1"));
  args.backend().adamw_update(params, grads, m, v, step, decision);
}

void ema_update(const Tensor& ema, const Tensor& params, float decay, const Tensor& decision) {
  const OpArgs args("ema_update", {ARG(ema), ARG(params), ARG(decision)});
  args.require(decay >= 0.0f && decay <= 1.0f, concat("decay ", decay, " is outside [0, 1]"));
  args.defined("params");
  args.shape("ema", params.shape());
  if (decision.defined()) check_step_state(args, "decision");
  args.backend().ema_update(ema, params, decay, decision);
}

void sum_of_squares(const Tensor& x, const Tensor& result) {
  const OpArgs args("sum_of_squares", {ARG(x), ARG(result)});
  args.defined("x");
  args.shape("result", {2});
  args.backend().sum_of_squares(x, result);
}

double sum_of_squares(const Tensor& x) {
  const Tensor result = Tensor::empty({2}, DType::F32, x.device());
  sum_of_squares(x, result);
  double sum = 0.0;
  std::memcpy(&sum, on_device(result, Device::CPU).raw(), sizeof(sum));
  return sum;
}

void decide_step(const Tensor& partial_squares, const StepRule& rule, const Tensor& state) {
  const OpArgs args("decide_step", {ARG(partial_squares), ARG(state)});
  args.rank("partial_squares", 1);
  args.require(partial_squares.numel() >= 2 && partial_squares.numel() % 2 == 0,
               concat("partial_squares must hold whole doubles (an even number of f32 slots, at least 2), got ",
                      partial_squares.numel()));
  check_step_state(args, "state");
  args.require(rule.min_scale > 0 && rule.min_scale <= rule.max_scale && rule.growth_factor > 1 &&
                   rule.backoff_factor > 0 && rule.backoff_factor < 1 && rule.growth_interval > 0,
               "rule needs 0 < min_scale <= max_scale, growth_factor > 1, 0 < backoff_factor < 1 and "
               "growth_interval > 0");
  args.backend().decide_step(partial_squares, rule, state);
}

void cast(const Tensor& source, const Tensor& destination) {
  const OpArgs args("cast", {ARG(source), ARG(destination)});
  args.defined("source");
  args.shape("destination", source.shape());
  args.require(source.dtype() != DType::I32 && destination.dtype() != DType::I32, "cast supports f32, bf16 and f16");
  args.require(source.device() == destination.device(), "arguments are on different devices (copy them to one device)");
  backend_for(source.device()).cast(source, destination);
}

}  // namespace diffuse::ops
