// SiLU (x * sigmoid(x)) and ReLU with their gradients: the element math of
// silu_forward/backward and relu_forward/backward, shared by the CPU and CUDA
// backends.
#pragma once

#include "core/hd.h"
#include "core/math/exp.h"

namespace diffuse {

// x / (1 + e^-x) saturates cleanly: e^-x overflows to inf for x < -88, giving
// -0, and vanishes for large x, giving x; no NaN for any finite input.
DIFFUSE_HD float silu(float x) { return x / (1.0f + exp_vectorizable(-x)); }

// d/dx x*s(x) = s(x) * (1 + x * (1 - s(x))), s the logistic sigmoid.
DIFFUSE_HD float silu_derivative(float x) {
  const float s = 1.0f / (1.0f + exp_vectorizable(-x));
  return s * (1.0f + x * (1.0f - s));
}

// max(x, 0), with NaN mapped to 0 (x > 0 is false for it).
DIFFUSE_HD float relu(float x) { return x > 0.0f ? x : 0.0f; }

// dx for one element: dy where x > 0, else exactly 0 (even for an infinite dy).
DIFFUSE_HD float relu_input_grad(float x, float dy) { return x > 0.0f ? dy : 0.0f; }

}  // namespace diffuse
