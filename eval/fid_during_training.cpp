// FID during training: setup checks, sampling this rank's share, gathering features.
#include "eval/fid_during_training.h"

#include <memory>
#include <utility>
#include <vector>

#include "distributed/rank_share.h"
#include "eval/evaluation.h"
#include "eval/frechet_distance.h"
#include "run/model_setup.h"
#include "run/sampling.h"

namespace diffuse::eval {

TrainingFid::TrainingFid(const TrainingFidOptions& options, const model::UNetSpec& spec, Communicator& communicator)
    : options_(options), communicator_(communicator) {
  DIFFUSE_CHECK(!options.features.empty(), "eval.features: set a feature network file to compute FID in training");
  DIFFUSE_CHECK(!options.reference.empty(), "data.test: FID in training needs a reference dataset");
  network_ = load_feature_network(options.features);
  const FeatureNetworkInfo& info = network_->info();
  check_image_shape(info, options.features, spec.image_size, spec.image_size, spec.image_channels,
                    "the model's samples");
  check_sample_count(options.samples, info.feature_dim, "eval.samples");
  reference_ = reference_features(*network_, options.features, options.reference, communicator, options.batch);
  check_sample_count(reference_.features.dim(0), info.feature_dim, "reference set " + options.reference);
}

double TrainingFid::operator()(model::UNet& unet, const DiffusionSetup& setup, const Config& config) {
  const RankShare share = rank_share(options_.samples, communicator_.rank(), communicator_.size());
  const Tensor images = sample_share(unet, setup, sampler_options(config), LabelOrder::kInterleaved, options_.samples,
                                     share, options_.batch);
  const Tensor local = extract_features(*network_, images, options_.batch);
  const Tensor features = gather_rows(communicator_, share, local, options_.samples);
  return frechet_distance(gaussian_statistics(features), reference_.statistics);
}

Evaluator training_fid_evaluator(const Config& config, Communicator& communicator) {
  TrainingFidOptions options;
  options.features = config.eval.features;
  options.reference = config.data.test;
  options.samples = config.eval.samples;
  auto fid = std::make_shared<TrainingFid>(options, unet_spec(config.model), communicator);
  return [fid, config](model::UNet& unet, const DiffusionSetup& setup) {
    return std::vector<std::pair<std::string, double>>{{"fid", (*fid)(unet, setup, config)}};
  };
}

}  // namespace diffuse::eval
