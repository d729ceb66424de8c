// The hook through which a run measures sample quality while it trains
// (train.eval_every): the trainer calls an Evaluator, eval/ provides one, and
// the command line joins them, so the trainer and eval/ do not depend on each other.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "diffusion/diffusion_setup.h"
#include "distributed/communicator.h"
#include "model/unet.h"
#include "run/config.h"

namespace diffuse {

// Sample-quality metrics of the model's current parameters, e.g. {{"fid", 31.2}}.
// Collective: every rank calls it and gets the same values back.
using Evaluator =
    std::function<std::vector<std::pair<std::string, double>>(model::UNet& unet, const DiffusionSetup& setup)>;
// Builds the run's evaluator once, before training starts (loading networks and
// reference statistics, checking them against the model). Collective.
using EvaluatorFactory = std::function<Evaluator(const Config& config, Communicator& communicator)>;

}  // namespace diffuse
