// The run configuration: one YAML file (configs/*.yaml) plus `--set
// key.sub=value` overrides, parsed into plain structs. Every key is declared
// once in config.cpp's schema: an unknown key, a wrong type or a value out of
// range is an error naming the key and where it came from, before anything
// runs. Enumerated keys become their enums here, once, through the enums' name
// tables. The resolved configuration is written back as YAML into each run
// directory and each checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "diffusion/consistency.h"
#include "diffusion/formulation.h"
#include "diffusion/objective.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "optim/lr_schedule.h"
#include "run/device_choice.h"
#include "run/precision.h"

namespace diffuse {

struct DataConfig {
  std::string train;  // dataset file (.h5) for training
  std::string test;   // held-out dataset for evaluation ("" = none)
  bool flip = false;  // random horizontal flips
  int prefetch = 4;   // batches read ahead on the loader thread
};

struct ModelConfig {
  int image_size = 32;
  int image_channels = 1;
  int channels = 64;
  std::vector<int> channel_mults = {1, 2, 2};
  int num_res_blocks = 2;
  std::vector<int> attention_resolutions = {8};
  double dropout = 0.1;
  int num_classes = 0;  // 0 = unconditional
  int groups = 32;      // group-norm groups
  // ADM's options (Dhariwal & Nichol 2021); the defaults are DDPM's network.
  bool scale_shift_norm = false;  // AdaGN: the time embedding scales and shifts each ResBlock's second norm
  int num_heads = 1;              // attention heads at every attention resolution...
  int num_head_channels = 0;      // ...or, when > 0, channels per head (heads = channels / this)
  bool resblock_updown = false;   // down- and upsample with ResBlocks instead of a strided conv / upsampling conv
};

struct DiffusionConfig {
  ScheduleKind schedule = ScheduleKind::CosineContinuous;  // linear | cosine | cosine_continuous
  int timesteps = 1000;                                    // T of the discrete schedules
  Prediction prediction = Prediction::Eps;                 // eps | x0 | v
  LossWeighting loss_weight = LossWeighting::Simple;       // simple | snr_trunc | snr_plus_one | min_snr
  double min_snr_gamma = kDefaultMinSnrGamma;              // min_snr's gamma: w = min(SNR, gamma)
  double class_dropout = 0.1;                              // label dropped to "no class" for guidance
  // vp: the network predicts `prediction` at the schedule's levels. edm: Karras et al. (2022)'s preconditioning
  // and log-normal training levels (diffusion/formulation.h); schedule, prediction and loss_weight keep their
  // defaults.
  Formulation formulation = Formulation::kVp;  // vp | edm
  double sigma_data = 0.5;                     // edm: the data's standard deviation
  double p_mean = -1.2;                        // edm: training ln(sigma) ~ N(p_mean, p_std^2)
  double p_std = 1.2;
};

struct TrainConfig {
  int64_t steps = 1000;
  int batch_size = 64;   // global, over all ranks and accumulation micro-steps
  int accumulation = 1;  // micro-steps per optimiser step
  double lr = 2e-4;
  int64_t warmup_steps = 100;
  LrDecay lr_decay = LrDecay::kConstant;  // constant | linear | cosine (towards 0 at train.steps)
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double adam_eps = 1e-8;
  double grad_clip = 1.0;  // global gradient-norm clip (0 = off)
  std::vector<double> ema_rates = {0.999};
  Precision precision = Precision::kFp32;  // fp32 | bf16 | fp16
  int64_t log_every = 10;
  int64_t sample_every = 0;  // 0 = never
  int64_t eval_every = 0;    // FID of the EMA weights every N steps (0 = never); needs eval.features
  int64_t checkpoint_every = 500;
  int keep_checkpoints = 3;
  // A run whose gradients are not finite this many steps in a row has diverged: it ends with an error instead
  // of skipping on. fp16's loss scale halves at each skip, so 10 in a row take it from 2^16 to 64, far below
  // what a healthy fp16 run needs; fp32 and bf16 never skip a healthy step.
  int max_consecutive_skips = 10;
  double bucket_mb = 25.0;          // gradient all-reduce buckets (MiB), overlapped with backward
  DType reduce_dtype = DType::F32;  // gradients between ranks: fp32 | bf16 (half the bytes, rounded sums)
  bool shard_optimizer = false;     // ZeRO-1: Adam moments sharded over ranks
};

struct SampleConfig {
  SamplerKind sampler = SamplerKind::kDdim;  // ddpm | ddim | euler | heun | dpmpp_2m | consistency
  int steps = 50;
  double eta = 0.0;  // ddim only
  // The Karras sigma grid of euler, heun and dpmpp_2m in VE sigma (sigma / alpha); 0 = EDM's 0.002 and 80, clipped
  // to the noise levels the schedule trains on.
  double sigma_min = 0.0;
  double sigma_max = 0.0;
  double rho = 7.0;
  // EDM's stochastic churn of euler and heun (diffusion/sampler.h): s_churn 0 = deterministic; the churned steps
  // are those with sigma_i in [s_tmin, s_tmax] (the default s_tmax is above any schedule's largest sigma).
  double s_churn = 0.0;
  double s_tmin = 0.0;
  double s_tmax = kUnboundedChurnSigma;
  double s_noise = 1.0;
  // The consistency sampler's intermediate levels after sigma_max, decreasing, one fewer than the steps (empty:
  // evenly spaced indices of the model's grid, diffusion/consistency.h).
  std::vector<double> consistency_sigmas;
  double guidance = 0.0;  // classifier-free guidance weight w (0 = conditional only)
  int per_class = 8;      // grid columns per class for conditional models
  int count = 64;         // grid size for unconditional models
};

// `diffuse distill`'s methods: progressive (Salimans & Ho 2022) or consistency (Song et al. 2023).
enum class DistillMethod { kProgressive, kConsistency };
inline constexpr EnumName<DistillMethod> kDistillMethodNames[] = {{DistillMethod::kProgressive, "progressive"},
                                                                  {DistillMethod::kConsistency, "consistency"}};

// `diffuse distill`: progressive distillation in stages from from_steps down to to_steps sampler steps, or
// consistency distillation in one run of steps_per_stage steps (consistency section).
struct DistillConfig {
  DistillMethod method = DistillMethod::kProgressive;
  int from_steps = 1024;           // the teacher's sampler steps
  int to_steps = 4;                // the last student's; from_steps / to_steps is a power of two
  int64_t steps_per_stage = 1000;  // optimizer steps per halving
  double lr = 1e-4;                // decays linearly to 0 within each stage
  LossWeighting loss_weight = LossWeighting::SnrTruncated;  // snr_trunc (max(SNR, 1)) | snr_plus_one (the v-MSE)
};

// Consistency models (diffusion/consistency.h), on the Karras grid of sample.sigma_min, sigma_max and rho.
struct ConsistencyConfig {
  int levels = 18;                      // distillation: N, the student's grid (Song et al.'s CIFAR-10 choice)
  double target_ema = 0.95;             // distillation: mu, the target network's EMA rate (0: the online network)
  double huber_c = kPseudoHuberFactor;  // the pseudo-Huber c per sqrt(pixels x channels)
  int s0 = 10;                          // training: the curriculum's first N - 1...
  int s1 = 1280;                        // ...doubled in equal stages up to this
  double p_mean = -1.1;                 // training: the log-normal over level pairs
  double p_std = 2.0;
};

// Sample quality measured while training (train.eval_every).
struct EvalConfig {
  std::string features;    // feature network file (`diffuse train-classifier` output or converted Inception)
  int64_t samples = 1000;  // samples per evaluation, drawn with the sample section; more than the feature dimension
};

struct RuntimeConfig {
  DeviceRequest device = DeviceRequest::kAuto;  // cpu, cuda, or auto (the GPU when this build and machine have one)
  int threads = 0;                              // CPU threads per rank (0 = the cores given to this rank)
  double collective_timeout_s = 300.0;          // a collective waiting longer ends the job naming the missing ranks
};

struct Config {
  uint64_t seed = 0;
  DataConfig data;
  ModelConfig model;
  DiffusionConfig diffusion;
  TrainConfig train;
  SampleConfig sample;
  EvalConfig eval;
  DistillConfig distill;
  ConsistencyConfig consistency;
  RuntimeConfig runtime;
};

// Loads `path` and applies the "key.sub=value" overrides in order; throws an
// Error naming the key and the file (or "--set") on any problem, and for a file
// without settings. The data paths (data.train, data.test, eval.features) come
// back absolute, resolved against the current directory, so that the copies
// stored in the run directory and its checkpoints mean the same from anywhere.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Parses YAML text (e.g. the copy stored in a checkpoint) as it stands, paths
// included; `origin` names it in errors. Empty text means the defaults.
Config parse_config(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides = {});
// The configuration as YAML, every key present, in schema order.
std::string config_to_yaml(const Config& config);
// Every key whose value differs, in schema order, as "key old -> new" ("seed 1 -> 2", "train.lr 0.0002 -> 0.0001").
std::vector<std::string> config_differences(const Config& before, const Config& after);

}  // namespace diffuse
