#include "trainer/trainer.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/log.h"
#include "core/ops.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "trainer/image_grid.h"
#include "trainer/metrics.h"
#include "trainer/model_setup.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

std::string format_duration(double seconds) {
  const long long total = static_cast<long long>(std::max(0.0, seconds));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  } else {
    std::snprintf(text, sizeof(text), "%lldm%02llds", total / 60, total % 60);
  }
  return text;
}

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
  DIFFUSE_CHECK(info.height == model.image_size && info.width == model.image_size,
                "dataset ", path, " has ", info.height, "x", info.width, " images but model.image_size is ",
                model.image_size);
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

Trainer::Trainer(const Config& config, const std::string& run_dir, Communicator& communicator, bool resuming)
    : config_(config), run_dir_(run_dir), communicator_(communicator), setup_(diffusion_setup(config)) {
  const int world = communicator_.size();
  DIFFUSE_CHECK(config_.train.batch_size % (world * config_.train.accumulation) == 0, "train.batch_size ",
                config_.train.batch_size, " is not divisible by ", world, " ranks x train.accumulation ",
                config_.train.accumulation);
  if (communicator_.rank() == 0) {
    check_writable(run_dir_);
    if (!resuming) {
      DIFFUSE_CHECK(newest_checkpoint(run_dir_).empty(), "run directory ", run_dir_,
                    " already holds checkpoints: continue it with --resume auto, or choose another --run-dir");
    }
    fs::create_directories(fs::path(run_dir_) / "checkpoints");
    fs::create_directories(fs::path(run_dir_) / "samples");
    std::ofstream(fs::path(run_dir_) / "config.yaml") << config_to_yaml(config_);
  }

  unet_ = std::make_unique<model::UNet>(unet_spec(config_.model), store_);
  store_.finalize(Device::CPU);
  store_.initialize(config_.seed);
  communicator_.broadcast(store_.params(), 0);
  adam_m_ = Tensor::zeros({store_.numel()});
  adam_v_ = Tensor::zeros({store_.numel()});
  for (double rate : config_.train.ema_rates) {
    Tensor buffer = Tensor::empty({store_.numel()});
    copy(store_.params(), buffer);
    ema_.emplace_back(rate, buffer);
  }
}

std::vector<ParameterEntry> Trainer::layout() const {
  std::vector<ParameterEntry> entries;
  for (int64_t i = 0; i < store_.count(); ++i) {
    const model::Parameter& parameter = store_.at(i);
    entries.push_back({parameter.name, parameter.shape, parameter.offset});
  }
  return entries;
}

void Trainer::resume_from(const std::string& checkpoint) {
  const CheckpointMeta meta = read_checkpoint_meta(checkpoint);
  CheckpointBuffers buffers{store_.params(), ema_, adam_m_, adam_v_};
  read_checkpoint(checkpoint, layout(), buffers);
  step_ = meta.step;
  const Config saved = parse_config(meta.config_yaml, checkpoint);
  if (saved.train.batch_size != config_.train.batch_size)
    log_warning("resuming with train.batch_size ", config_.train.batch_size, " (the checkpoint used ",
                saved.train.batch_size, "): the run continues, but not the same trajectory");
  log_info("resumed from ", checkpoint, " at step ", step_);
}

double Trainer::learning_rate(int64_t step) const {
  const TrainConfig& train = config_.train;
  if (train.warmup_steps == 0) return train.lr;
  return train.lr * std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(train.warmup_steps));
}

void Trainer::save_checkpoint() {
  if (communicator_.rank() != 0) return;
  CheckpointMeta meta;
  meta.step = step_;
  const int64_t batch = config_.train.batch_size;
  meta.samples_seen = step_ * batch;
  DatasetReader reader(config_.data.train);
  const int64_t steps_per_epoch = std::max<int64_t>(1, reader.info().count / batch);
  meta.epoch = step_ / steps_per_epoch;
  meta.world_size = communicator_.size();
  meta.seed = config_.seed;
  meta.config_yaml = config_to_yaml(config_);
  const CheckpointBuffers buffers{store_.params(), ema_, adam_m_, adam_v_};
  write_checkpoint(checkpoint_path(run_dir_, step_), layout(), meta, buffers);
  prune_checkpoints(run_dir_, config_.train.keep_checkpoints);
}

void Trainer::write_sample_grid() {
  if (communicator_.rank() != 0) return;
  // Sample from the first EMA rate's weights, then restore the training weights.
  Tensor saved = Tensor::empty({store_.numel()});
  copy(store_.params(), saved);
  if (!ema_.empty()) copy(ema_.front().second, store_.params());
  const SampleConfig& sample = config_.sample;
  SamplerOptions options;
  options.steps = sample.steps;
  options.eta = sample.sampler == "ddpm" ? 1.0 : sample.eta;
  options.guidance = sample.guidance;
  options.seed = config_.seed;
  const model::UNetSpec spec = unet_spec(config_.model);
  const Tensor labels = grid_labels(spec.num_classes, sample.per_class);
  const Tensor images = sample_with_model(*unet_, spec, setup_, options, labels, sample.count, 64);
  copy(saved, store_.params());
  char name[48];
  std::snprintf(name, sizeof(name), "step-%08lld.png", static_cast<long long>(step_));
  const std::string path = (fs::path(run_dir_) / "samples" / name).string();
  write_png_grid(path, images, spec.num_classes > 0 ? sample.per_class : static_cast<int>(std::sqrt(sample.count)));
  log_info("wrote sample grid ", path);
}

void Trainer::run(int64_t stop_after) {
  const TrainConfig& train = config_.train;
  const int world = communicator_.size(), rank = communicator_.rank();
  DatasetReader reader(config_.data.train);
  check_dataset_matches(reader.info(), config_.data.train, config_);

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

  MetricsLog metrics(rank == 0 ? (fs::path(run_dir_) / "metrics.jsonl").string() : std::string());
  const int64_t last = stop_after >= 0 ? std::min(train.steps, step_ + stop_after) : train.steps;
  const int64_t micro = train.batch_size / world / train.accumulation;
  const float loss_scale = 1.0f / static_cast<float>(train.batch_size);
  if (rank == 0)
    log_info("training ", store_.numel(), " parameters from step ", step_, " to ", last, ", global batch ",
             train.batch_size, " on ", world, " rank(s) x ", omp_get_max_threads(), " threads");

  auto window_start = std::chrono::steady_clock::now();
  const auto run_start = window_start;
  int64_t window_steps = 0;
  double window_loss = 0.0;
  while (step_ < last) {
    const Batch batch = loader.next();
    DIFFUSE_CHECK(batch.step == step_, "data loader is at step ", batch.step, " but training is at ", step_);
    store_.zero_grads();
    double loss_sum = 0.0;
    for (int part = 0; part < train.accumulation; ++part) {
      MicroBatch micro_batch;
      micro_batch.images = batch.images.slice(part * micro, (part + 1) * micro);
      if (batch.labels.defined()) micro_batch.labels = batch.labels.slice(part * micro, (part + 1) * micro);
      micro_batch.step = static_cast<uint32_t>(step_);
      micro_batch.first_sample = static_cast<uint32_t>(batch.first_sample + part * micro);
      loss_sum += train_micro_batch(*unet_, setup_, config_.seed, micro_batch, loss_scale);
    }
    communicator_.all_reduce_sum(store_.grads());

    const double grad_norm = std::sqrt(ops::sum_of_squares(store_.grads()));
    const double clip = train.grad_clip > 0 && grad_norm > train.grad_clip ? train.grad_clip / grad_norm : 1.0;
    ops::AdamWStep adam;
    adam.lr = static_cast<float>(learning_rate(step_));
    adam.beta1 = static_cast<float>(train.beta1);
    adam.beta2 = static_cast<float>(train.beta2);
    adam.eps = static_cast<float>(train.adam_eps);
    adam.weight_decay = static_cast<float>(train.weight_decay);
    adam.step = step_ + 1;
    adam.grad_scale = static_cast<float>(clip);
    ops::adamw_update(store_.params(), store_.grads(), adam_m_, adam_v_, adam);
    for (auto& [rate, buffer] : ema_) ops::ema_update(buffer, store_.params(), static_cast<float>(rate));
    ++step_;
    ++window_steps;
    window_loss += loss_sum;

    if (step_ % train.log_every == 0 || step_ == last) {
      const double loss = communicator_.all_reduce_sum(window_loss) / (window_steps * train.batch_size);
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - window_start).count();
      const double images_per_second = window_steps * train.batch_size / std::max(seconds, 1e-9);
      const double eta = (last - step_) * seconds / window_steps;
      if (rank == 0) {
        std::printf("step %lld/%lld  loss %.4f  grad %.3f  lr %.2e  %.1f img/s  ETA %s\n",
                    static_cast<long long>(step_), static_cast<long long>(train.steps), loss, grad_norm, adam.lr,
                    images_per_second, format_duration(eta).c_str());
        std::fflush(stdout);
      }
      metrics.write(step_, {{"loss", loss},
                            {"grad_norm", grad_norm},
                            {"lr", adam.lr},
                            {"img_per_s", images_per_second},
                            {"samples_seen", static_cast<double>(step_ * train.batch_size)},
                            {"elapsed_s", std::chrono::duration<double>(now - run_start).count()}});
      window_start = now;
      window_steps = 0;
      window_loss = 0.0;
    }
    if (train.sample_every > 0 && (step_ % train.sample_every == 0 || step_ == train.steps)) write_sample_grid();
    if (step_ % train.checkpoint_every == 0 || step_ == last) save_checkpoint();
  }
}

void run_training(const std::string& config_path, const std::vector<std::string>& overrides,
                  const std::string& run_dir, const std::string& resume) {
  const Config config = load_config(config_path, overrides);
  if (config.runtime.threads > 0) omp_set_num_threads(config.runtime.threads);
  SingleProcessCommunicator communicator;
  std::string checkpoint;
  if (resume == "auto") {
    checkpoint = newest_checkpoint(run_dir);
    if (checkpoint.empty()) log_info("no checkpoint in ", run_dir, ": starting a new run");
  } else if (!resume.empty()) {
    checkpoint = resume;
  }
  Trainer trainer(config, run_dir, communicator, !resume.empty());
  if (!checkpoint.empty()) trainer.resume_from(checkpoint);
  trainer.run();
  log_info("done: checkpoint ", newest_checkpoint(run_dir));
}

}  // namespace diffuse
