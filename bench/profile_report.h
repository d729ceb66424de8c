// `bench ... --profile`: the op profile (core/op_profile.h: GPU ops timed on
// the device) of the timed steps as a table per op family (conv2d,
// group_norm, attention, ...) with forward, backward and other (optimizer,
// noise, casts) time per step and the share of the step, plus the time
// outside any op.
#pragma once

namespace diffuse {

// Prints the profile gathered over `runs` timed runs (training steps, sampled batches: `unit`) that took
// `run_seconds` each on average.
void print_op_profile(int runs, double run_seconds, const char* unit);

}  // namespace diffuse
