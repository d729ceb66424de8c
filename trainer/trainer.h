// The training loop: data, micro-steps with gradient accumulation, gradient
// all-reduce, clipping, AdamW with warmup, EMA, logging, sample grids and
// checkpoints. Training is a pure function of (config, seed, step): resuming
// from a checkpoint continues bit for bit the run that wrote it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/parameters.h"
#include "model/unet.h"
#include "trainer/checkpoint.h"
#include "trainer/communicator.h"
#include "trainer/config.h"
#include "trainer/training_step.h"

namespace diffuse {

class Trainer {
 public:
  // Prepares the run directory (RUN/config.yaml, checkpoints/, samples/) and
  // the model. Refuses a run directory that already holds checkpoints unless
  // a resume follows (no existing output is overwritten by a fresh run).
  Trainer(const Config& config, const std::string& run_dir, Communicator& communicator, bool resuming);

  // Loads parameters, EMA, optimizer state and the step from a checkpoint.
  void resume_from(const std::string& checkpoint);
  // Trains until train.steps (or `stop_after` more steps when >= 0, for tests).
  void run(int64_t stop_after = -1);

  int64_t step() const { return step_; }
  const model::ParameterStore& parameters() const { return store_; }
  const Tensor& ema(size_t index) const { return ema_.at(index).second; }
  const Tensor& adam_m() const { return adam_m_; }
  const Tensor& adam_v() const { return adam_v_; }

  // Writes RUN/checkpoints/ckpt-<step>.h5 now (rank 0) and prunes old ones.
  void save_checkpoint();

 private:
  void train_step();
  void write_sample_grid();
  std::vector<ParameterEntry> layout() const;
  double learning_rate(int64_t step) const;

  Config config_;
  std::string run_dir_;
  Communicator& communicator_;
  DiffusionSetup setup_;
  model::ParameterStore store_;
  std::unique_ptr<model::UNet> unet_;
  Tensor adam_m_, adam_v_;
  std::vector<std::pair<double, Tensor>> ema_;
  int64_t step_ = 0;
};

// `diffuse train`: loads the config, resolves --resume (auto = newest
// checkpoint in the run dir, if any) and trains.
void run_training(const std::string& config_path, const std::vector<std::string>& overrides,
                  const std::string& run_dir, const std::string& resume);

}  // namespace diffuse
