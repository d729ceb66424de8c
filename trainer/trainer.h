// The training loop: data, micro-steps with gradient accumulation, gradient
// all-reduce, clipping, AdamW with warmup, EMA, logging, sample grids and
// checkpoints. Training is a pure function of (config, seed, step): resuming
// from a checkpoint continues bit for bit the run that wrote it.
//
// Distributed (see README "Distributed training"): every rank holds the whole
// model; parameters are broadcast from rank 0 at start; each rank trains on
// its slice of the global batch and gradients are summed in buckets that
// overlap backward (gradient_reducer.h), only on the last accumulation
// micro-step. With train.shard_optimizer (ZeRO-1) each rank keeps the Adam
// moments of its shard of the parameters only: gradients are reduce-scattered,
// each rank updates its shard, and the parameters are all-gathered. Rank 0
// writes config.yaml, metrics (metrics.jsonl and TensorBoard event files),
// sample grids and checkpoints (which always hold the whole state); every rank
// reads the checkpoint on resume, on any number of ranks. A stop signal
// (stop_signal.h) on any rank stops all of them at the next step boundary,
// after a checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/gradient_reducer.h"
#include "distributed/shard_layout.h"
#include "io/checkpoint.h"
#include "io/event_file_writer.h"
#include "model/parameters.h"
#include "model/unet.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"
#include "optim/lr_schedule.h"
#include "run/config.h"
#include "run/evaluator.h"
#include "trainer/training_step.h"

namespace diffuse {

struct Batch;      // data/loader.h
class MetricsLog;  // trainer/metrics.h

enum class RunOutcome {
  kFinished,  // reached train.steps (or the stop_after limit)
  kStopped,   // a stop signal: checkpoint written at step()
};

class Trainer {
 public:
  // Prepares the run directory (checkpoints/, samples/) and the model. Refuses
  // a run directory that already holds checkpoints unless a resume follows (no
  // existing output is overwritten by a fresh run); a refusal on rank 0 is an
  // error on every rank. Collective: every rank constructs its Trainer; they
  // must have the same config.
  // The model, its gradients, optimizer state and EMA live on `device`,
  // runtime.device as the run session resolved it (run/run_session.h; the
  // communicator must handle buffers there); checkpoints, sample grids and
  // evaluation go through the host.
  Trainer(const Config& config, Device device, const std::string& run_dir, Communicator& communicator, bool resuming);

  // Replaces the diffusion loss (train_micro_batch) by another objective with the same contract, e.g. distillation.
  using MicroStep = std::function<Tensor(model::UNet& unet, const MicroBatch& batch, const ops::LossScale& loss_scale)>;
  void set_micro_step(MicroStep micro_step) { micro_step_ = std::move(micro_step); }
  // Starts from these weights (parameters and every EMA buffer) instead of the seeded initialization.
  void start_from_weights(const Tensor& weights);
  // Distilled students: the distillation method and how many sampler steps the model is trained for (the
  // checkpoints' method and sampling_steps).
  void set_student(std::string method, int sampling_steps) {
    student_method_ = std::move(method);
    sampling_steps_ = sampling_steps;
  }
  // Prefixes the progress line (e.g. "stage 2/8") and adds these values to every metrics.jsonl line.
  void set_progress_label(std::string prefix, std::vector<std::pair<std::string, double>> metrics);
  // Where the TensorBoard event files go (a directory TensorBoard shows as one run); RUN/tensorboard unless set.
  void set_tensorboard_directory(std::string directory) { tensorboard_directory_ = std::move(directory); }

  // What runs every train.eval_every steps on the first EMA rate's weights; its values go to metrics.jsonl and
  // TensorBoard.
  void set_evaluator(Evaluator evaluator) { evaluator_ = std::move(evaluator); }
  // Loads parameters, EMA, optimizer state and the step from a checkpoint (every rank reads it), warning
  // about every configuration key that differs from the checkpoint's.
  void resume_from(const std::string& checkpoint);
  // Writes RUN/config.yaml (only now, so that a failed resume leaves it as it was), warms up (warm_up(), unless
  // there is no step left), then trains until train.steps (or `stop_after` more steps when >= 0, for tests), or
  // until a stop signal reaches any rank.
  // Rank 0 logs to metrics.jsonl and to a new TensorBoard event file, each hiding what earlier runs logged
  // after the step this one starts from. TensorBoard gets the metrics.jsonl values less set_progress_label's
  // constants (plus loss_scale with fp16), and the sample grids as the image "samples".
  RunOutcome run(int64_t stop_after = -1);

  int64_t step() const { return step_; }
  const model::ParameterStore& parameters() const { return store_; }
  const Tensor& ema(size_t index) const { return optimizer_->emas().at(index).second; }
  // Adam moments: this rank's shard [shards().begin(rank), shards().end(rank)) with train.shard_optimizer.
  const Tensor& adam_m() const { return optimizer_->m(); }
  const Tensor& adam_v() const { return optimizer_->v(); }
  const ShardLayout& shards() const { return optimizer_->shards(); }
  // Seconds the last step waited for gradient reduction after backward (0 on one rank).
  double last_reduction_wait() const { return last_reduction_wait_; }

  // What run() does before its first step (trainer/warm_up.h): one forward and backward of the micro-step on a
  // micro-batch of the real shape (zero images, class 0) with the gradient reducer not armed, its gradients zeroed,
  // then one all-reduce of one float. Nothing else changes: parameters, optimizer state, EMA, step, loss scale,
  // metrics and the data order are as before (every draw is keyed, none consumed). Logs the time it took on rank 0.
  // Collective.
  void warm_up();

  // Writes RUN/checkpoints/ckpt-<step>.h5 now and prunes old ones. Collective
  // (sharded optimizer state is gathered first); rank 0 writes.
  void save_checkpoint();

 private:
  // One optimizer step, decided on the device (nothing is read back). Adds the step's per-sample losses to
  // window_losses_.
  void train_step(const Batch& batch);
  // The scaler's state onto the device, where every step updates it (after construction and resume).
  void upload_step_state();
  // What the loss backward multiplies by: the loss scale over the global batch size (the mean of the losses).
  ops::LossScale loss_scale() const;
  // The device's step state read into scaler_ (a wait for the device): at log steps, checkpoints and the end of a
  // run. Warns about the steps skipped since the last read and ends a diverged run (every rank reads at the same
  // steps and holds the same state, so every rank ends together).
  void read_step_state();
  // The logging window's loss summed over its samples on every rank, and a new window begins (one read from the
  // device; collective).
  double take_window_loss_sum();
  void write_sample_grid();
  void evaluate(MetricsLog& metrics);
  // Runs `body` with the first EMA rate's weights in the model, then restores the training weights.
  template <typename Body>
  void with_ema_weights(Body&& body);
  bool agree_to_stop();

  Config config_;
  Device device_;  // runtime.device, resolved
  std::string run_dir_;
  Communicator& communicator_;
  DiffusionSetup setup_;
  model::ParameterStore store_;
  std::unique_ptr<model::UNet> unet_;
  LrSchedule lr_schedule_;
  std::unique_ptr<AdamW> optimizer_;          // sharded over the ranks with train.shard_optimizer (ZeRO-1)
  std::unique_ptr<GradientReducer> reducer_;  // null on one rank
  Evaluator evaluator_;                       // empty unless train.eval_every is set
  MicroStep micro_step_;                      // the diffusion loss, iCT's, or distillation's (set_micro_step)
  int sampling_steps_ = 0;                    // 0: not a distilled student
  std::string student_method_;
  std::string progress_prefix_;
  std::vector<std::pair<std::string, double>> label_metrics_;
  std::string tensorboard_directory_;
  std::optional<EventFileWriter> events_;  // rank 0's, opened by run()
  DynamicLossScaler scaler_;               // fp16: dynamic; otherwise scale 1, still skipping non-finite steps
  Tensor step_state_;                      // f32 [kStepStateFloats] on the device: scaler_'s state as it moves
  int64_t step_read_ = 0;                  // the step of the last read_step_state()
  int64_t steps_per_epoch_ = 0;            // set by run() from the dataset; 0 before
  int64_t step_ = 0;
  double last_reduction_wait_ = 0.0;
  // The logging window: steps since the last metrics line, this rank's per-sample losses summed on the device
  // (f32 [micro-batch]), and the sum over all ranks folded in at checkpoints (or restored from one).
  int64_t window_steps_ = 0;
  Tensor window_losses_;
  double window_loss_folded_ = 0.0;
};

// `diffuse train`: starts the run session (run/run_session.h: the config, the
// communicator, the device and the thread count), locks the run directory
// (io/run_directory_lock.h) and resolves --resume on rank 0 (auto = the newest
// complete checkpoint in the run dir, if any) and trains; a stop signal ends
// it cleanly with a checkpoint and the way to resume. With train.eval_every,
// `make_evaluator` builds what measures sample quality during the run.
void run_training(const std::string& config_path, const std::vector<std::string>& overrides, const std::string& run_dir,
                  const std::string& resume, const EvaluatorFactory& make_evaluator = {});

}  // namespace diffuse
