// FID while training (`train.eval_every`): a few hundred or thousand samples
// of the current (EMA) weights against the config's test set, in the
// features of a feature network file. Every rank samples its share; all ranks
// get the same FID back, so the caller may log it from rank 0 only.
//
// The trainer builds one TrainingFid when the run starts (loading the network
// and the cached reference statistics once) and calls it every eval_every steps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "distributed/communicator.h"
#include "eval/feature_network.h"
#include "eval/reference_features.h"
#include "model/unet.h"
#include "run/config.h"
#include "run/evaluator.h"

namespace diffuse::eval {

struct TrainingFidOptions {
  std::string features;    // feature network file (config eval.features)
  std::string reference;   // reference dataset (config data.test)
  int64_t samples = 1000;  // generated per evaluation (config eval.samples); must exceed the feature dimension
  int64_t batch = 64;      // images per forward pass
};

class TrainingFid {
 public:
  // Collective. Checks that the network takes the model's images, that the reference matches them and that
  // `samples` is enough for the feature dimension, before training starts.
  TrainingFid(const TrainingFidOptions& options, const model::UNetSpec& spec, Communicator& communicator);

  // Collective. FID of options.samples samples of the model's current parameters, drawn with the config's
  // sample section (sampler, steps, eta, guidance) and seed, against the reference set.
  double operator()(model::UNet& unet, const DiffusionSetup& setup, const Config& config);

 private:
  TrainingFidOptions options_;
  Communicator& communicator_;
  std::unique_ptr<FeatureNetwork> network_;
  ReferenceFeatures reference_;
};

// The trainer's evaluator for train.eval_every: {"fid", FID of eval.samples samples against data.test in the
// features of eval.features}. Builds the TrainingFid once (collective, with its checks).
Evaluator training_fid_evaluator(const Config& config, Communicator& communicator);

}  // namespace diffuse::eval
