// `diffuse eval`: sample quality of a checkpoint (or of a set of images)
// against a reference dataset, in the features of a feature network file:
// FID, KID, precision/recall and, for class-conditional models scored by the
// classifier, class accuracy; or against published reference statistics
// (eval/published_statistics.h): FID alone. Every rank generates and featurizes its share
// of the samples; rank 0 computes the metrics, prints one summary line and
// writes the JSON report. All inputs are checked before any sampling starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace diffuse::eval {

// Samples `eval --ckpt` draws without --n.
inline constexpr int64_t kDefaultSampleCount = 10000;

// What `diffuse eval` is given (its flags, cli/eval_command.cpp).
struct EvalOptions {
  std::string device = "auto";  // cpu | cuda | auto, where --ckpt samples
  std::string checkpoint;
  std::string images;
  std::string ema = "first";
  // Sampling flags; absent ("" for the sampler): as command_sampler and sampler_options (run/sampling.h) say,
  // from the checkpoint, so eval measures what `diffuse sample` draws.
  std::string sampler;  // a SamplerKind name
  std::optional<int> steps;
  std::optional<double> eta;
  std::optional<double> guidance;
  std::optional<int64_t> count;  // images to evaluate; absent: kDefaultSampleCount, or all of --images
  int64_t batch = 64;
  std::optional<uint64_t> seed;
  std::string reference;        // --ref: a dataset file, or
  std::string reference_stats;  // --ref-stats: published statistics (.npz), FID only
  std::string features;
  std::string out;
  std::string save_samples;
  int kid_subsets = 100;
  int64_t kid_subset_size = 1000;
};

// How many of the `available` images of `images_path` `eval --images` evaluates: the first --n when given, else
// all. Throws an Error naming both numbers when --n asks for more than there are.
int64_t images_to_evaluate(std::optional<int64_t> count, int64_t available, const std::string& images_path);

// Collective: every rank of the run session (run/run_session.h) it starts calls it.
void run_eval(const EvalOptions& options);

}  // namespace diffuse::eval
