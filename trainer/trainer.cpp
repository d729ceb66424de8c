#include "trainer/trainer.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/log.h"
#include "core/on_device.h"
#include "core/ops.h"
#include "core/progress.h"
#include "data/loader.h"
#include "distributed/rank_agreement.h"
#include "distributed/stop_signal.h"
#include "io/atomic_file.h"
#include "io/image_grid.h"
#include "io/run_directory_lock.h"
#include "run/checkpoint_model.h"
#include "run/model_setup.h"
#include "run/precision.h"
#include "run/run_session.h"
#include "run/sampling.h"
#include "trainer/consistency_step.h"
#include "trainer/metrics.h"
#include "trainer/warm_up.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

// Fails before training starts when the directory cannot be written.
void check_writable(const fs::path& directory) {
  std::error_code error;
  fs::create_directories(directory, error);
  DIFFUSE_CHECK(!error, "cannot create run directory ", directory.string(), ": ", error.message());
  const fs::path probe = directory / ".write-test";
  {
    std::ofstream file(probe);
    DIFFUSE_CHECK(file.good() && (file << "ok").good(), "run directory ", directory.string(), " is not writable");
  }
  fs::remove(probe, error);
}

void check_dataset_matches(const DatasetInfo& info, const std::string& path, const Config& config) {
  const ModelConfig& model = config.model;
  DIFFUSE_CHECK(info.height == model.image_size && info.width == model.image_size, "dataset ", path, " has ",
                info.height, "x", info.width, " images but model.image_size is ", model.image_size);
  DIFFUSE_CHECK(info.channels == model.image_channels, "dataset ", path, " has ", info.channels,
                " channels but model.image_channels is ", model.image_channels);
  if (model.num_classes > 0) {
    DIFFUSE_CHECK(info.has_labels, "dataset ", path, " has no labels but model.num_classes is ", model.num_classes);
    DIFFUSE_CHECK(info.num_classes == model.num_classes, "dataset ", path, " has ", info.num_classes,
                  " classes but model.num_classes is ", model.num_classes);
  }
  DIFFUSE_CHECK(info.count >= config.train.batch_size, "dataset ", path, " has ", info.count,
                " images, fewer than train.batch_size ", config.train.batch_size);
}

}  // namespace

Trainer::Trainer(const Config& config, Device device, const std::string& run_dir, Communicator& communicator,
                 bool resuming)
    : config_(config),
      device_(device),
      run_dir_(run_dir),
      communicator_(communicator),
      setup_(diffusion_setup(config)),
      lr_schedule_{config.train.lr, config.train.warmup_steps, config.train.lr_decay, config.train.steps},
      tensorboard_directory_((fs::path(run_dir) / "tensorboard").string()),
      scaler_(DynamicLossScaler::fixed()) {
  // Consistency training (iCT): the online network is its own target (mu = 0), and there is no teacher.
  if (config_.diffusion.formulation == Formulation::kConsistency) {
    micro_step_ = [this, objective = consistency_objective(config_, setup_, true)](
                      model::UNet& unet, const MicroBatch& batch, const ops::LossScale& loss_scale) {
      return consistency_micro_batch(unet, unet, nullptr, setup_, objective, config_.seed, batch, loss_scale);
    };
  } else {
    micro_step_ = [this](model::UNet& unet, const MicroBatch& batch, const ops::LossScale& loss_scale) {
      return train_micro_batch(unet, setup_, config_.seed, batch, loss_scale);
    };
  }
  const int world = communicator_.size();
  // On the CPU backend bf16 computes where the CPU can and fp32 otherwise (it says so).
  const PrecisionPolicy precision = precision_policy(config_.train.precision, device_);
  apply_precision(precision);
  if (precision.loss_scaling) scaler_ = DynamicLossScaler();
  upload_step_state();
  // First, so that ranks with different configs fail together before they disagree on anything else.
  if (world > 1) require_same_on_every_rank(communicator_, config_to_yaml(config_), "configurations");
  DIFFUSE_CHECK(config_.train.batch_size % (world * config_.train.accumulation) == 0, "train.batch_size ",
                config_.train.batch_size, " is not divisible by ", world, " ranks x train.accumulation ",
                config_.train.accumulation);
  // config.yaml waits for run(): a resume that fails must leave the run's configuration as it was.
  decided_on_rank_zero(communicator_, [&] {
    check_writable(run_dir_);
    if (!resuming) {
      DIFFUSE_CHECK(newest_checkpoint(run_dir_).empty(), "run directory ", run_dir_,
                    " already holds checkpoints: continue it with --resume auto, or choose another --run-dir");
    }
    fs::create_directories(fs::path(run_dir_) / "checkpoints");
    fs::create_directories(fs::path(run_dir_) / "samples");
    return std::string();
  });

  unet_ = std::make_unique<model::UNet>(unet_spec(config_.model), store_, precision.compute);
  store_.finalize(device_);
  store_.initialize(config_.seed);
  communicator_.broadcast(store_.params(), 0);

  const bool sharded = config_.train.shard_optimizer && world > 1;
  optimizer_ = std::make_unique<AdamW>(store_.params(), store_.grads(), config_.train.ema_rates,
                                       sharded ? &communicator_ : nullptr);
  const DType wire = config_.train.reduce_dtype;
  if (sharded) {
    reducer_ = std::make_unique<GradientReducer>(store_, communicator_, config_.train.bucket_mb, optimizer_->shards(),
                                                 optimizer_->shard_grads(), wire);
  } else if (world > 1) {
    reducer_ = std::make_unique<GradientReducer>(store_, communicator_, config_.train.bucket_mb, wire);
  }
}

void Trainer::resume_from(const std::string& checkpoint) {
  const CheckpointMeta meta = read_checkpoint_meta(checkpoint);
  // The file is read into host buffers (the kept ones themselves where they are whole and on the host); the whole
  // optimizer state is in it, and a sharded rank keeps its part.
  const auto host_buffer = [&](const Tensor& kept) {
    return kept.device() == Device::CPU && kept.numel() == store_.numel() ? kept : Tensor::empty({store_.numel()});
  };
  CheckpointBuffers buffers{
      host_buffer(store_.params()), {}, host_buffer(optimizer_->m()), host_buffer(optimizer_->v())};
  for (const auto& [rate, buffer] : optimizer_->emas()) buffers.ema.emplace_back(rate, host_buffer(buffer));
  read_checkpoint(checkpoint, checkpoint_layout(store_), buffers);
  if (buffers.params.raw() != store_.params().raw()) copy(buffers.params, store_.params());
  optimizer_->load({buffers.adam_m, buffers.adam_v}, buffers.ema);
  step_ = meta.step;
  scaler_.restore({meta.loss_scale, meta.loss_scale_good_steps, 0});
  upload_step_state();
  window_steps_ = meta.window_steps;
  window_loss_folded_ = meta.window_loss_sum;
  const Config saved = parse_config(meta.config_yaml, checkpoint);
  if (communicator_.rank() != 0) return;
  const std::vector<std::string> changed = config_differences(saved, config_);
  if (!changed.empty()) {
    std::string list;
    for (const std::string& change : changed) list += concat(list.empty() ? "" : ", ", change);
    log_warning("resuming with a configuration that differs from the checkpoint's (", list,
                "): the run continues, but not on the same trajectory");
  }
  if (meta.world_size != communicator_.size())
    log_info("the checkpoint was written by ", meta.world_size, " rank(s); continuing on ", communicator_.size(),
             " with the same global batch");
  log_info("resumed from ", checkpoint, " at step ", step_);
}

void Trainer::start_from_weights(const Tensor& weights) {
  DIFFUSE_CHECK(weights.numel() == store_.numel(), "starting weights have ", weights.numel(),
                " values but the model has ", store_.numel(), " parameters");
  copy(weights, store_.params());
  optimizer_->reset_emas(weights);
}

void Trainer::set_progress_label(std::string prefix, std::vector<std::pair<std::string, double>> metrics) {
  progress_prefix_ = std::move(prefix);
  label_metrics_ = std::move(metrics);
}

void Trainer::save_checkpoint() {
  // Sharded moments are gathered for the file (for a moment every rank holds them whole).
  read_step_state();
  const AdamW::Moments moments = optimizer_->gather_moments();
  // The open logging window goes into the file; folding it here, in an interrupted run and an uninterrupted
  // one alike, makes the resumed run's first windowed loss the uninterrupted run's to the bit.
  window_loss_folded_ = take_window_loss_sum();
  if (communicator_.rank() != 0) return;
  CheckpointMeta meta;
  meta.step = step_;
  const int64_t batch = config_.train.batch_size;
  meta.samples_seen = step_ * batch;
  meta.epoch = steps_per_epoch_ > 0 ? step_ / steps_per_epoch_ : 0;
  meta.world_size = communicator_.size();
  const DynamicLossScaler::State scaler = scaler_.state();
  meta.loss_scale = scaler.scale;
  meta.loss_scale_good_steps = scaler.good_steps;
  meta.seed = config_.seed;
  meta.config_yaml = config_to_yaml(config_);
  meta.sampling_steps = sampling_steps_;
  meta.method = student_method_;
  meta.window_steps = window_steps_;
  meta.window_loss_sum = window_loss_folded_;
  // Written from host copies (the buffers themselves on the CPU backend).
  CheckpointBuffers buffers{on_device(store_.params(), Device::CPU),
                            {},
                            on_device(moments.m, Device::CPU),
                            on_device(moments.v, Device::CPU)};
  for (const auto& [rate, buffer] : optimizer_->emas()) buffers.ema.emplace_back(rate, on_device(buffer, Device::CPU));
  write_checkpoint(checkpoint_path(run_dir_, step_), checkpoint_layout(store_), meta, buffers);
  prune_checkpoints(run_dir_, config_.train.keep_checkpoints);
}

template <typename Body>
void Trainer::with_ema_weights(Body&& body) {
  Tensor saved = Tensor::empty({store_.numel()}, DType::F32, device_);
  copy(store_.params(), saved);
  if (!optimizer_->emas().empty()) copy(optimizer_->emas().front().second, store_.params());
  try {
    body();
  } catch (...) {
    copy(saved, store_.params());
    throw;
  }
  copy(saved, store_.params());
}

// Every rank samples its share of the grid (sample i is keyed by its index in
// the grid, so the grid does not depend on the rank count); rank 0 writes it.
void Trainer::write_sample_grid() {
  const SampleConfig& sample = config_.sample;
  const model::UNetSpec& spec = unet_->spec();
  const int64_t count = spec.num_classes > 0 ? static_cast<int64_t>(spec.num_classes) * sample.per_class : sample.count;
  const eval::RankShare share = eval::rank_share(count, communicator_.rank(), communicator_.size());
  Tensor mine;
  with_ema_weights(
      [&] { mine = sample_share(*unet_, setup_, sampler_options(config_), LabelOrder::kBlocks, count, share, 64); });
  const Tensor images = eval::gather_rows(communicator_, share, mine, count);
  if (communicator_.rank() != 0) return;
  char name[48];
  std::snprintf(name, sizeof(name), "step-%08lld.png", static_cast<long long>(step_));
  const std::string path = (fs::path(run_dir_) / "samples" / name).string();
  const PngImage grid =
      png_grid(images, spec.num_classes > 0 ? sample.per_class : static_cast<int>(std::sqrt(sample.count)));
  write_file_atomically(path, grid.bytes);
  log_info("wrote sample grid ", path);
  events_->write_image(step_, "samples", grid);
}

void Trainer::evaluate(MetricsLog& metrics) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, double>> values;
  with_ema_weights([&] { values = evaluator_(*unet_, setup_); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (communicator_.rank() != 0) return;
  std::string line;
  for (const auto& [name, value] : values) line += concat("  ", name, " ", value);
  log_info("evaluation at step ", step_, ":", line, "  (", format_duration(seconds), ")");
  values.push_back({"eval_s", seconds});
  events_->write_scalars(step_, values);
  values.insert(values.end(), label_metrics_.begin(), label_metrics_.end());
  metrics.write(step_, values);
}

// Each rank says whether a stop signal reached it; all stop if any did. One
// number per step: cheap next to the gradients.
bool Trainer::agree_to_stop() {
  const int signal = stop_signal();
  if (signal != 0 && communicator_.size() > 1)
    log_info("received ", stop_signal_name(signal), ": every rank stops after step ", step_);
  return communicator_.all_reduce_sum(signal != 0 ? 1.0 : 0.0) > 0.0;
}

double Trainer::take_window_loss_sum() {
  double mine = 0.0;
  if (window_losses_.defined())
    for (float value : to_vector(window_losses_)) mine += value;
  window_losses_ = Tensor();
  const double sum = communicator_.all_reduce_sum(mine) + window_loss_folded_;
  window_loss_folded_ = 0.0;
  return sum;
}

void Trainer::upload_step_state() {
  step_state_ = step_state_tensor(scaler_.step_state(), device_);
  step_read_ = step_;
}

void Trainer::read_step_state() {
  const int64_t skipped_before = scaler_.skipped_steps();
  scaler_.set_step_state(diffuse::read_step_state(step_state_));
  const int64_t skipped = scaler_.skipped_steps() - skipped_before;
  if (skipped > 0)
    log_warning("step ", step_, ": the gradients of ", skipped, " of the ", step_ - step_read_, " steps since step ",
                step_read_, " were not finite; skipped (", scaler_.skipped_steps(), " skipped so far, loss scale now ",
                scaler_.scale(), ")");
  step_read_ = step_;
  const TrainConfig& train = config_.train;
  DIFFUSE_CHECK(scaler_.consecutive_skips() < train.max_consecutive_skips, "training diverged: the gradients of ",
                scaler_.consecutive_skips(), " steps in a row, up to step ", step_,
                ", were not finite (train.max_consecutive_skips = ", train.max_consecutive_skips,
                "); the checkpoints written before it are kept in ", (fs::path(run_dir_) / "checkpoints").string(),
                ": lower train.lr or check the data, then resume from them");
}

ops::LossScale Trainer::loss_scale() const {
  const auto batch_size = static_cast<float>(config_.train.batch_size);
  // A dynamic scale moves on the device, where the loss backward reads it: the step never waits for the host.
  if (scaler_.dynamic()) return ops::LossScale(1.0f / batch_size, step_state_);
  return ops::LossScale(scaler_.scale() / batch_size);
}

void Trainer::train_step(const Batch& batch) {
  const TrainConfig& train = config_.train;
  const int64_t micro = batch.images.dim(0) / train.accumulation;
  const ops::LossScale loss_scale = this->loss_scale();
  store_.zero_grads();
  // The weights' one rounding of the step, in bf16 or fp16: after the last update, or whatever load or swap of
  // weights came since.
  store_.update_compute_copy();
  for (int part = 0; part < train.accumulation; ++part) {
    MicroBatch micro_batch;
    micro_batch.images = on_device(batch.images.slice(part * micro, (part + 1) * micro), device_);
    if (batch.labels.defined()) micro_batch.labels = batch.labels.slice(part * micro, (part + 1) * micro);
    micro_batch.step = static_cast<uint32_t>(step_);
    micro_batch.first_sample = static_cast<uint32_t>(batch.first_sample + part * micro);
    // Only the last micro-step's backward finishes gradients, so only it starts reductions.
    if (reducer_ && part == train.accumulation - 1) reducer_->arm();
    const Tensor losses = micro_step_(*unet_, micro_batch, loss_scale);
    // Summed on the device: reading the losses every micro-step would make the host wait for the GPU.
    if (!window_losses_.defined()) window_losses_ = Tensor::zeros(losses.shape(), DType::F32, losses.device());
    ops::accumulate(window_losses_, losses);
  }
  last_reduction_wait_ = reducer_ ? reducer_->finish() : 0.0;

  // Unscales, clips and skips the step when a gradient overflowed: decided on the device from the all-reduced
  // gradients (the same decision on every rank) and read there by AdamW and the EMA.
  optimizer_->decide(scaler_.rule(train.grad_clip), step_state_);
  ++step_;
  ops::AdamWStep adam;
  adam.lr = static_cast<float>(lr_schedule_.rate(step_));
  adam.beta1 = static_cast<float>(train.beta1);
  adam.beta2 = static_cast<float>(train.beta2);
  adam.eps = static_cast<float>(train.adam_eps);
  adam.weight_decay = static_cast<float>(train.weight_decay);
  adam.step = step_;
  optimizer_->step(adam, step_state_);
}

void Trainer::warm_up() {
  const TrainConfig& train = config_.train;
  const model::UNetSpec& spec = unet_->spec();
  const int64_t micro = train.batch_size / (communicator_.size() * train.accumulation);
  MicroBatch batch;
  batch.images = Tensor::zeros({micro, spec.image_size, spec.image_size, spec.image_channels}, DType::F32, device_);
  if (spec.num_classes > 0) batch.labels = Tensor::zeros({micro}, DType::I32);
  batch.step = static_cast<uint32_t>(step_);
  batch.first_sample = static_cast<uint32_t>(communicator_.rank() * micro * train.accumulation);
  const ops::LossScale loss_scale = this->loss_scale();
  // The per-sample losses are dropped: they belong to no logging window.
  const double seconds = diffuse::warm_up(store_, communicator_, [&] {
    store_.update_compute_copy();
    micro_step_(*unet_, batch, loss_scale);
  });
  if (communicator_.rank() == 0)
    log_info("warm-up forward and backward (micro-batch ", micro, ") and one all-reduce took ",
             std::round(seconds * 1000.0) / 1000.0, " s, before the first step");
}

RunOutcome Trainer::run(int64_t stop_after) {
  const TrainConfig& train = config_.train;
  const int world = communicator_.size(), rank = communicator_.rank();
  LoaderOptions loader_options;
  loader_options.path = config_.data.train;
  loader_options.global_batch = train.batch_size;
  loader_options.rank = rank;
  loader_options.world_size = world;
  loader_options.seed = config_.seed;
  loader_options.horizontal_flip = config_.data.flip;
  loader_options.prefetch = config_.data.prefetch;
  loader_options.start_step = step_;
  DataLoader loader(loader_options);
  check_dataset_matches(loader.info(), config_.data.train, config_);
  steps_per_epoch_ = loader.steps_per_epoch();
  if (rank == 0) write_file_atomically((fs::path(run_dir_) / "config.yaml").string(), config_to_yaml(config_));

  MetricsLog metrics(rank == 0 ? (fs::path(run_dir_) / "metrics.jsonl").string() : std::string(), step_);
  if (rank == 0) events_.emplace(tensorboard_directory_, step_);
  const int64_t last = stop_after >= 0 ? std::min(train.steps, step_ + stop_after) : train.steps;
  if (rank == 0)
    log_info("training ", store_.numel(), " parameters from step ", step_, " to ", last, ", global batch ",
             train.batch_size, " on ", world, " rank(s) x ", omp_get_max_threads(), " threads",
             reducer_ ? concat(", ", reducer_->buckets().size(), " gradient buckets",
                               reducer_->sends_bf16() ? " sent as bf16" : "")
                      : std::string(),
             optimizer_->sharded() ? ", optimizer state sharded (ZeRO-1)" : "");

  // Before the clock starts: the first step's timing leaves out cuDNN's algorithm search and NCCL's connections.
  if (step_ < last) warm_up();

  auto window_start = std::chrono::steady_clock::now();
  const auto run_start = window_start;
  int64_t timed_steps = 0;  // of the window, those run by this process: a resumed window's first ones were not
  double window_wait = 0.0;
  while (step_ < last) {
    const Batch batch = loader.next();
    DIFFUSE_CHECK(batch.step == step_, "data loader is at step ", batch.step, " but training is at ", step_);
    train_step(batch);
    ++window_steps_;
    ++timed_steps;
    window_wait += last_reduction_wait_;

    const bool log_step = step_ % train.log_every == 0 || step_ == last;
    // The log reports the state; a checkpoint step must know whether steps are being skipped (below).
    if (log_step || step_ % train.checkpoint_every == 0 || step_ == last) read_step_state();
    if (log_step) {
      const double grad_norm = scaler_.step_state().grad_norm;
      const double loss = take_window_loss_sum() / static_cast<double>(window_steps_ * train.batch_size);
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - window_start).count();
      const double images_per_second = timed_steps * train.batch_size / std::max(seconds, 1e-9);
      const double eta = (last - step_) * seconds / timed_steps;
      const double lr = lr_schedule_.rate(step_);
      if (rank == 0) {
        std::printf("%s%sstep %lld/%lld  loss %.4f  grad %.3f  lr %.2e  %.1f img/s  ETA %s\n", progress_prefix_.c_str(),
                    progress_prefix_.empty() ? "" : "  ", static_cast<long long>(step_),
                    static_cast<long long>(train.steps), loss, grad_norm, lr, images_per_second,
                    format_duration(eta).c_str());
        std::fflush(stdout);
      }
      std::vector<std::pair<std::string, double>> values = {
          {"loss", loss},
          {"grad_norm", grad_norm},
          {"lr", lr},
          {"img_per_s", images_per_second},
          {"samples_seen", static_cast<double>(step_ * train.batch_size)},
          {"elapsed_s", std::chrono::duration<double>(now - run_start).count()}};
      if (world > 1) values.push_back({"reduction_wait_s", window_wait / timed_steps});
      if (rank == 0) {
        std::vector<std::pair<std::string, double>> scalars = values;
        if (scaler_.dynamic()) scalars.push_back({"loss_scale", scaler_.scale()});
        events_->write_scalars(step_, scalars);
      }
      values.insert(values.end(), label_metrics_.begin(), label_metrics_.end());
      metrics.write(step_, values);
      window_start = now;
      window_steps_ = 0;
      timed_steps = 0;
      window_wait = 0.0;
    }
    // Sampling, evaluation and checkpoints are not training: the throughput window skips them.
    const auto pause_start = std::chrono::steady_clock::now();
    if (train.sample_every > 0 && (step_ % train.sample_every == 0 || step_ == train.steps)) write_sample_grid();
    if (evaluator_ && train.eval_every > 0 && (step_ % train.eval_every == 0 || step_ == train.steps))
      evaluate(metrics);
    if (agree_to_stop()) {
      save_checkpoint();
      communicator_.barrier();  // every rank exits only once the checkpoint is complete
      return RunOutcome::kStopped;
    }
    // Not while steps are being skipped: should the run diverge, its last checkpoints from before stay unpruned.
    const bool periodic = step_ % train.checkpoint_every == 0 && scaler_.consecutive_skips() == 0;
    if (periodic || step_ == last) save_checkpoint();
    window_start += std::chrono::steady_clock::now() - pause_start;
  }
  communicator_.barrier();
  return RunOutcome::kFinished;
}

void run_training(const std::string& config_path, const std::vector<std::string>& overrides, const std::string& run_dir,
                  const std::string& resume, const EvaluatorFactory& make_evaluator) {
  RunSession session(config_path, overrides, SessionKind::kTraining);
  const Config& config = session.config();
  Communicator& communicator = session.communicator();
  const int rank = session.rank();
  const ThreadChoice& threads = session.threads();
  if (rank == 0)
    log_info("computing on ", session.device_choice().description, " with ", threads.threads, " thread(s) per rank (",
             threads.reason, ")");

  // The evaluator first: a bad feature network or reference set fails before the run directory is touched.
  Evaluator evaluator;
  if (config.train.eval_every > 0) {
    DIFFUSE_CHECK(make_evaluator, "train.eval_every is set but this program cannot evaluate during training");
    evaluator = make_evaluator(config, communicator);
  }

  // Rank 0 locks the run directory and decides which checkpoint to continue from; every rank reads it.
  std::optional<RunDirectoryLock> lock;  // rank 0's, held until training ends
  const std::string checkpoint = decided_on_rank_zero(communicator, [&] {
    lock.emplace(run_dir);
    if (resume != "auto") return resume;
    const std::string newest = newest_complete_checkpoint(run_dir);
    if (newest.empty()) log_info("no checkpoint in ", run_dir, ": starting a new run");
    return newest;
  });
  Trainer trainer(config, session.device(), run_dir, communicator, !resume.empty());
  if (!checkpoint.empty()) trainer.resume_from(checkpoint);
  trainer.set_evaluator(std::move(evaluator));
  const RunOutcome outcome = trainer.run();
  if (rank != 0) return;
  if (outcome == RunOutcome::kStopped) {
    log_info("stopped at step ", trainer.step(), " by ",
             stop_signal() != 0 ? stop_signal_name(stop_signal()) : "a stop signal on another rank", ": wrote ",
             checkpoint_path(run_dir, trainer.step()), "; to continue, run the same command with --resume auto");
  } else {
    log_info("done: checkpoint ", newest_checkpoint(run_dir));
  }
}

}  // namespace diffuse
