// The warm-up before the first counted training step. On a GPU the first
// forward and backward at a shape is slow (cuDNN searches and times its
// convolution algorithms and sizes their workspaces), and so is the first
// collective (NCCL connects the ranks lazily). Done first, neither lands in a
// timed step, and the algorithm search's memory use never overlaps the first
// gradient buckets' all-reduces. On the CPU it changes nothing a step computes.
#pragma once

#include <functional>

#include "distributed/communicator.h"
#include "model/parameters.h"

namespace diffuse {

// Runs `forward_backward` once (one micro-step at the real shape, with no
// gradient reducer armed, so no bucket is reduced), zeroes the gradients it
// left in `store` (ops::fill_zero), then all-reduces one float over
// `communicator` and reads it back, so that the device has finished. Returns
// the seconds all of it took. Collective: every rank warms up.
double warm_up(model::ParameterStore& store, Communicator& communicator, const std::function<void()>& forward_backward);

}  // namespace diffuse
