// `diffuse eval`: sample quality of a checkpoint (or of a set of images)
// against a reference dataset, in the features of a feature network file:
// FID, KID, precision/recall and, for class-conditional models scored by the
// classifier, class accuracy. Every rank generates and featurizes its share
// of the samples; rank 0 computes the metrics, prints one summary line and
// writes the JSON report. All inputs are checked before any sampling starts.
#pragma once

#include <cstdint>
#include <string>

namespace diffuse::eval {

// What `diffuse eval` is given (its flags, cli/eval_command.cpp).
struct EvalOptions {
  std::string device = "auto";  // cpu | cuda | auto, where --ckpt samples
  std::string checkpoint;
  std::string images;
  std::string ema = "first";
  std::string sampler = "ddim";  // a SamplerKind name
  int steps = 0;                 // 0 = the student's sampling_steps, else the config's
  double eta = 0.0;
  double guidance = 0.0;
  int64_t count = 10000;
  int64_t batch = 64;
  uint64_t seed = 0;
  std::string reference;
  std::string features;
  std::string out;
  std::string save_samples;
  int kid_subsets = 100;
  int64_t kid_subset_size = 1000;
};

// Collective: every rank of the run session (run/run_session.h) it starts calls it.
void run_eval(const EvalOptions& options);

}  // namespace diffuse::eval
