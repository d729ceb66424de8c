// The pseudo-Huber distance of consistency training, shared by the CPU and CUDA backends: from a sample's summed
// squared difference, its weighted value and the factor its gradient puts on each difference.
#pragma once

#include <cmath>

#include "core/hd.h"

namespace diffuse {

// weight * (sqrt(squared + c^2) - c).
DIFFUSE_HD float pseudo_huber_value(double squared, float c, float weight) {
  return static_cast<float>(weight * (sqrt(squared + static_cast<double>(c) * c) - c));
}

// d(loss_scale * value) / d(pred - target) = coefficient * (pred - target).
DIFFUSE_HD float pseudo_huber_coefficient(double squared, float c, float weight, float loss_scale) {
  return static_cast<float>(static_cast<double>(loss_scale) * weight / sqrt(squared + static_cast<double>(c) * c));
}

}  // namespace diffuse
