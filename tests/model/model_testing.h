// Helpers shared by the model tests: parameters with every layer "live" (no
// near-zero init), so finite differences see every path of a network.
#pragma once

#include <cstdint>

#include "model/parameters.h"

namespace diffuse::testing {

// Weights fan-avg uniform with scale 1 (also the layers DDPM starts near zero),
// biases and betas U(-0.2, 0.2), gammas 1 + U(-0.2, 0.2), tables U(-1, 1).
void randomize_parameters(model::ParameterStore& store, uint64_t seed);

}  // namespace diffuse::testing
