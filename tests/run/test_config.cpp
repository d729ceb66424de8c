#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"
#include "run/config.h"
#include "run/device_choice.h"
#include "run/model_setup.h"
#include "run/sampling.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

TEST(Config, ShippedConfigsParse) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(DIFFUSE_SOURCE_DIR) + "/configs")) {
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(load_config(entry.path().string()));
  }
}

// The DDPM CIFAR-10 model of Ho et al. 2020, as the shipped config builds it.
TEST(Config, Cifar10DdpmConfigBuildsTheDdpmModel) {
  const Config config = load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/cifar10_ddpm.yaml");
  model::ParameterStore store;
  const model::UNet unet(unet_spec(config.model), store);
  EXPECT_EQ(store.numel(), 35746307);
}

// EDM's CIFAR-10 recipe: the DDPM++-like network with every ADM option on, and the EDM formulation.
TEST(Config, Cifar10EdmConfigBuildsItsNetwork) {
  const Config config = load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/cifar10_edm.yaml");
  EXPECT_EQ(config.diffusion.formulation, Formulation::kEdm);
  EXPECT_TRUE(config.model.scale_shift_norm && config.model.resblock_updown);
  model::ParameterStore store;
  const model::UNet unet(unet_spec(config.model), store);
  EXPECT_EQ(store.numel(), 60863747);
}

// ADM's options default to DDPM's network; set, they reach the U-Net spec.
TEST(Config, AdmModelKeys) {
  const ModelConfig defaults = parse_config("", "inline").model;
  EXPECT_FALSE(defaults.scale_shift_norm);
  EXPECT_EQ(defaults.num_heads, 1);
  EXPECT_EQ(defaults.num_head_channels, 0);
  EXPECT_FALSE(defaults.resblock_updown);
  const Config config = parse_config(
      "model: {scale_shift_norm: true, num_head_channels: 16, resblock_updown: true, attention_resolutions: [16, 8]}\n",
      "inline");
  const model::UNetSpec spec = unet_spec(config.model);
  EXPECT_TRUE(spec.scale_shift_norm);
  EXPECT_EQ(spec.num_head_channels, 16);
  EXPECT_TRUE(spec.resblock_updown);
  EXPECT_EQ(parse_config("model: {num_heads: 4}\n", "inline").model.num_heads, 4);
}

TEST(Config, AttentionHeadsMustFitEveryAttentionResolution) {
  // channels 64, mults [1, 2, 2]: 64 channels at 32, 128 at 16 and at 8 (the middle's attention).
  const std::string both =
      testing::error_message([] { parse_config("model: {num_heads: 2, num_head_channels: 32}\n", "a.yaml"); });
  EXPECT_NE(both.find("model.num_heads"), std::string::npos) << both;
  EXPECT_NE(both.find("model.num_head_channels"), std::string::npos) << both;
  const std::string per_head = testing::error_message(
      [] { parse_config("model: {num_head_channels: 48, attention_resolutions: [32]}\n", "a.yaml"); });
  EXPECT_NE(per_head.find("model.num_head_channels"), std::string::npos) << per_head;
  EXPECT_NE(per_head.find("resolution 32"), std::string::npos) << per_head;
  const std::string heads = testing::error_message([] { parse_config("model: {num_heads: 3}\n", "a.yaml"); });
  EXPECT_NE(heads.find("model.num_heads"), std::string::npos) << heads;
  EXPECT_NE(heads.find("resolution 8"), std::string::npos) << heads;
  EXPECT_NE(testing::error_message([] { parse_config("model: {num_heads: 0}\n", "a.yaml"); }).find("model.num_heads"),
            std::string::npos);
}

TEST(Config, ValuesAndDefaults) {
  const Config config = parse_config("model: {channels: 96, channel_mults: [1, 2]}\ntrain: {lr: 3.0e-4}\n", "inline");
  EXPECT_EQ(config.model.channels, 96);
  EXPECT_EQ(config.model.channel_mults, (std::vector<int>{1, 2}));
  EXPECT_DOUBLE_EQ(config.train.lr, 3e-4);
  EXPECT_EQ(config.train.batch_size, TrainConfig().batch_size);
}

// What a resume compares: every key that differs, each once, in schema order, with both values.
TEST(Config, DifferencesListEveryChangedKey) {
  const Config saved = parse_config("seed: 1\ntrain: {lr: 2.0e-4}\n", "checkpoint");
  EXPECT_TRUE(config_differences(saved, saved).empty());
  const Config now = parse_config(
      "seed: 2\ntrain: {lr: 1.0e-4, ema_rates: [0.9, 0.99], precision: bf16}\ndata: {train: other.h5}\n", "now");
  EXPECT_EQ(
      config_differences(saved, now),
      (std::vector<std::string>{"seed 1 -> 2", "data.train \"\" -> \"other.h5\"", "train.lr 0.0002 -> 0.0001",
                                "train.ema_rates [0.999] -> [0.9, 0.99]", "train.precision \"fp32\" -> \"bf16\""}));
}

TEST(Config, UnknownKeyNamesKeyAndFile) {
  const std::string message = testing::error_message([] { parse_config("train:\n  stepz: 10\n", "configs/x.yaml"); });
  EXPECT_NE(message.find("unknown config key 'train.stepz' in configs/x.yaml"), std::string::npos) << message;
  const std::string section = testing::error_message([] { parse_config("trian: {steps: 1}\n", "configs/x.yaml"); });
  EXPECT_NE(section.find("'trian'"), std::string::npos) << section;
}

TEST(Config, FormulationIsVpUnlessEdmIsAsked) {
  const Config vp = parse_config("seed: 1\n", "x.yaml");
  EXPECT_EQ(vp.diffusion.formulation, Formulation::kVp);
  EXPECT_FALSE(diffusion_setup(vp).network.is_edm());
  const Config edm =
      parse_config("diffusion: {formulation: edm, sigma_data: 0.4, p_mean: -1.0, p_std: 1.5}\n", "x.yaml");
  const DiffusionSetup setup = diffusion_setup(edm);
  ASSERT_TRUE(setup.network.is_edm());
  EXPECT_EQ(setup.network.preconditioning.sigma_data, 0.4);
  EXPECT_EQ(setup.network.preconditioning.p_mean, -1.0);
  EXPECT_EQ(setup.network.preconditioning.p_std, 1.5);
  // Written back and read again (a checkpoint's copy), the formulation stays.
  EXPECT_TRUE(config_differences(edm, parse_config(config_to_yaml(edm), "checkpoint")).empty());
  // An old checkpoint's config, without the keys, is vp.
  EXPECT_EQ(parse_config("diffusion: {prediction: v}\n", "old checkpoint").diffusion.formulation, Formulation::kVp);
}

TEST(Config, EdmKeysAreCheckedAndVpKeysRefusedWithEdm) {
  const auto message_for = [](const std::string& yaml) {
    return testing::error_message([&] { parse_config(yaml, "x.yaml"); });
  };
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"diffusion: {sigma_data: 0}\n", "config key 'diffusion.sigma_data' in x.yaml: must be positive"},
           {"diffusion: {p_std: -1}\n", "config key 'diffusion.p_std' in x.yaml: must be positive"},
           {"diffusion: {p_mean: .nan}\n", "config key 'diffusion.p_mean' in x.yaml: expected a finite number"},
           {"diffusion: {formulation: ve}\n",
            "config key 'diffusion.formulation' in x.yaml: 've' is not one of vp, edm"},
           {"diffusion: {formulation: edm, prediction: v}\n",
            "config key 'diffusion.prediction' in x.yaml: does not apply to diffusion.formulation edm"},
           {"diffusion: {formulation: edm, loss_weight: snr_trunc}\n",
            "config key 'diffusion.loss_weight' in x.yaml: does not apply to diffusion.formulation edm"},
           {"diffusion: {formulation: edm, schedule: linear}\n",
            "config key 'diffusion.schedule' in x.yaml: does not apply to diffusion.formulation edm"},
       }) {
    const std::string message = message_for(yaml);
    EXPECT_NE(message.find(expected), std::string::npos) << yaml << message;
  }
  // EDM's Karras grid defaults (0.002, 80) bound the keys set alone.
  EXPECT_NE(message_for("diffusion: {formulation: edm}\nsample: {sigma_min: 100}\n").find("(100 >= 80)"),
            std::string::npos);
  EXPECT_NO_THROW(parse_config("diffusion: {formulation: edm}\nsample: {sigma_max: 100}\n", "x.yaml"));
}

TEST(Config, RuntimeDeviceIsCpuCudaOrAuto) {
  EXPECT_EQ(parse_config("seed: 1\n", "x.yaml").runtime.device, DeviceRequest::kAuto);
  EXPECT_EQ(parse_config("runtime: {device: cpu}\n", "x.yaml").runtime.device, DeviceRequest::kCpu);
  const std::string message = testing::error_message([] { parse_config("runtime: {device: tpu}\n", "x.yaml"); });
  EXPECT_NE(message.find("runtime.device"), std::string::npos) << message;
  EXPECT_NE(message.find("tpu"), std::string::npos) << message;
}

TEST(DeviceChoice, CpuAlwaysAndAutoFallsBackWithTheReason) {
  EXPECT_EQ(choose_device(DeviceRequest::kCpu, "runtime.device").device, Device::CPU);
  const DeviceChoice automatic = choose_device(DeviceRequest::kAuto, "runtime.device");
  if (automatic.device != Device::CPU) GTEST_SKIP() << "a GPU is visible: " << automatic.description;
  // No GPU: auto computes on the CPU and says why; asking for cuda is an error naming the setting and the reason.
  EXPECT_NE(automatic.description.find("runtime.device auto"), std::string::npos) << automatic.description;
  const std::string message = testing::error_message([] { choose_device(DeviceRequest::kCuda, "runtime.device"); });
  EXPECT_NE(message.find("runtime.device cuda: "), std::string::npos) << message;
  EXPECT_TRUE(message.find("no usable GPU") != std::string::npos || message.find("without CUDA") != std::string::npos)
      << message;
}

// --device flags parse through the same table as runtime.device.
TEST(DeviceChoice, DeviceFlagNamesTheFlagAndTheChoices) {
  EXPECT_EQ(value_named(kDeviceRequestNames, "cuda", "--device"), DeviceRequest::kCuda);
  EXPECT_EQ(testing::error_message([] { value_named(kDeviceRequestNames, "gpu", "--device"); }),
            "--device: 'gpu' is not one of cpu, cuda, auto");
}

TEST(Config, WrongTypeNamesKeyExpectationAndValue) {
  const std::string message = testing::error_message([] { parse_config("train: {steps: many}\n", "a.yaml"); });
  EXPECT_NE(message.find("config key 'train.steps' in a.yaml: expected an integer, got 'many'"), std::string::npos)
      << message;
  const std::string list = testing::error_message([] { parse_config("model: {channel_mults: 2}\n", "a.yaml"); });
  EXPECT_NE(list.find("expected a list of integers"), std::string::npos) << list;
}

TEST(Config, ConsistencyKeysNameTheKeyAndTheValue) {
  const Config defaults = parse_config("", "a.yaml");
  EXPECT_EQ(defaults.distill.method, DistillMethod::kProgressive);
  EXPECT_EQ(defaults.consistency.levels, 18);
  EXPECT_EQ(defaults.consistency.target_ema, 0.95);
  EXPECT_EQ(defaults.consistency.huber_c, 0.00054);
  for (const auto& [setting, key, value] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"consistency.target_ema=1", "consistency.target_ema", "got 1"},
           {"consistency.target_ema=-0.5", "consistency.target_ema", "got -0.5"},
           {"consistency.levels=1", "consistency.levels", "got 1"},
           {"consistency.huber_c=0", "consistency.huber_c", "got 0"},
           {"consistency.s1=5", "consistency.s1", "got 5"},
           {"sample.consistency_sigmas=[1, 2]", "sample.consistency_sigmas", "got 2"}}) {
    const std::string message = testing::error_message([&] { parse_config("", "a.yaml", {setting}); });
    EXPECT_NE(message.find(key), std::string::npos) << message;
    EXPECT_NE(message.find(value), std::string::npos) << message;
  }
  EXPECT_EQ(parse_config("", "a.yaml", {"consistency.target_ema=0"}).consistency.target_ema, 0.0);
  // Consistency training's sample grids fit its final grid of s1 + 1 levels.
  const std::vector<std::string> ict = {"diffusion.formulation=consistency", "sample.sampler=consistency",
                                        "consistency.s1=16"};
  const std::string steps = testing::error_message([&] {
    std::vector<std::string> settings = ict;
    settings.push_back("sample.steps=17");
    parse_config("", "a.yaml", settings);
  });
  EXPECT_NE(steps.find("is 17, more than the consistency model's grid of 17 levels allows (at most 16)"),
            std::string::npos)
      << steps;
  EXPECT_NE(testing::error_message([&] {
              std::vector<std::string> settings = ict;
              settings.insert(settings.end(), {"sample.steps=2", "sample.consistency_sigmas=[2, 1]"});
              parse_config("", "a.yaml", settings);
            }).find("sample.consistency_sigmas"),
            std::string::npos);
}

TEST(Sampling, ConsistencySamplerTakesTheModelsGridAndLevels) {
  const Config config = parse_config("consistency: {levels: 40}\nsample: {consistency_sigmas: [2.5, 0.5]}\n", "a.yaml");
  const SamplerOptions options = sampler_options(config);
  EXPECT_EQ(options.consistency_levels, 40);
  EXPECT_EQ(options.consistency_sigmas, (std::vector<double>{2.5, 0.5}));
  // A consistency-trained model walks its curriculum's final grid.
  EXPECT_EQ(sampler_options(parse_config("diffusion: {formulation: consistency}\nconsistency: {s1: 640}\n", "a.yaml"))
                .consistency_levels,
            641);
}

TEST(Config, InvalidValuesAreRejected) {
  EXPECT_NE(
      testing::error_message([] { parse_config("diffusion: {schedule: sqrt}\n", "a.yaml"); }).find("is not one of"),
      std::string::npos);
  EXPECT_NE(testing::error_message([] { parse_config("model: {channels: 48}\n", "a.yaml"); }).find("model.groups"),
            std::string::npos);
  EXPECT_NE(testing::error_message([] {
              parse_config("train: {batch_size: 10, accumulation: 3}\n", "a.yaml");
            }).find("train.accumulation"),
            std::string::npos);
  const std::string wire = testing::error_message([] { parse_config("train: {reduce_dtype: fp16}\n", "a.yaml"); });
  EXPECT_NE(wire.find("train.reduce_dtype"), std::string::npos) << wire;
  EXPECT_NE(wire.find("fp16"), std::string::npos) << wire;
  EXPECT_EQ(parse_config("train: {reduce_dtype: bf16}\n", "a.yaml").train.reduce_dtype, DType::BF16);
}

// The enumerated keys and every name each accepts, in the order their errors list them.
const std::vector<std::pair<std::string, std::vector<std::string>>>& enumerated_keys() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> keys = {
      {"diffusion.schedule", {"linear", "cosine", "cosine_continuous"}},
      {"diffusion.prediction", {"eps", "x0", "v"}},
      {"diffusion.loss_weight", {"simple", "snr_trunc", "snr_plus_one", "min_snr"}},
      {"train.precision", {"fp32", "bf16", "fp16"}},
      {"train.reduce_dtype", {"fp32", "bf16"}},
      {"distill.loss_weight", {"snr_trunc", "snr_plus_one"}},
      {"runtime.device", {"cpu", "cuda", "auto"}},
      {"sample.sampler", {"ddpm", "ddim", "euler", "heun", "dpmpp_2m", "consistency"}},
      {"distill.method", {"progressive", "consistency"}},
      {"diffusion.formulation", {"vp", "edm", "consistency"}},
  };
  return keys;
}

// Each name becomes its enum and is written back as the same name, so stored configs (and their hashes) keep
// their bytes.
TEST(Config, EnumeratedKeysRoundTripEveryName) {
  for (const auto& [key, names] : enumerated_keys()) {
    const std::string leaf = key.substr(key.find('.') + 1);
    for (const std::string& name : names) {
      SCOPED_TRACE(key + "=" + name);
      const std::string yaml = config_to_yaml(parse_config("", "a.yaml", {key + "=" + name}));
      EXPECT_NE(yaml.find("  " + leaf + ": \"" + name + "\"\n"), std::string::npos) << yaml;
      EXPECT_EQ(config_to_yaml(parse_config(yaml, "round trip")), yaml);
    }
  }
  const Config config = parse_config("diffusion: {schedule: linear, prediction: v, loss_weight: snr_trunc}\n", "a.yaml",
                                     {"train.precision=fp16", "distill.loss_weight=snr_plus_one"});
  EXPECT_EQ(config.diffusion.schedule, ScheduleKind::Linear);
  EXPECT_EQ(config.diffusion.prediction, Prediction::V);
  EXPECT_EQ(config.diffusion.loss_weight, LossWeighting::SnrTruncated);
  EXPECT_EQ(config.train.precision, Precision::kFp16);
  EXPECT_EQ(config.distill.loss_weight, LossWeighting::SnrPlusOne);
}

// A name a key does not accept is an error naming the key, where it came from and the choices; the last value
// given counts, so a --set can correct the file.
TEST(Config, EnumeratedKeysRejectOtherNames) {
  for (const auto& [key, names] : enumerated_keys()) {
    SCOPED_TRACE(key);
    std::string choices;
    for (const std::string& name : names) choices += (choices.empty() ? "" : ", ") + name;
    const std::string section = key.substr(0, key.find('.')), leaf = key.substr(key.find('.') + 1);
    const std::string in_file = section + ": {" + leaf + ": bogus}\n";
    EXPECT_EQ(testing::error_message([&] { parse_config(in_file, "configs/x.yaml"); }),
              "config key '" + key + "' in configs/x.yaml: 'bogus' is not one of " + choices);
    EXPECT_EQ(testing::error_message([&] { parse_config("", "configs/x.yaml", {key + "=bogus"}); }),
              "config key '" + key + "' in configs/x.yaml with --set overrides: 'bogus' is not one of " + choices);
    EXPECT_NO_THROW(parse_config(in_file, "configs/x.yaml", {key + "=" + names.front()}));
  }
  const std::string list = testing::error_message([] { parse_config("diffusion: {schedule: [1]}\n", "a.yaml"); });
  EXPECT_NE(list.find("config key 'diffusion.schedule' in a.yaml: expected a string, got"), std::string::npos) << list;
}

// Sampling follows the sample section and the config's seed; a command's flags, where given, win; ddpm means eta 1.
TEST(Sampling, FlagsGivenOverrideTheSampleSection) {
  const Config config = parse_config("seed: 5\nsample: {sampler: ddim, steps: 20, eta: 0.5, guidance: 2}\n", "a.yaml");
  const SamplerOptions plain = sampler_options(config);
  EXPECT_EQ(plain.steps, 20);
  EXPECT_EQ(plain.eta, 0.5);
  EXPECT_EQ(plain.guidance, 2.0);
  EXPECT_EQ(plain.seed, 5u);
  EXPECT_EQ(sampler_options(config, {}, 4).steps, 4);  // a distilled student's own step count
  SamplingFlags flags{SamplerKind::kDdim, 8, 0.0, 0.0, 1};
  const SamplerOptions flagged = sampler_options(config, flags, 4);
  EXPECT_EQ(flagged.steps, 8);
  EXPECT_EQ(flagged.eta, 0.0);
  EXPECT_EQ(flagged.guidance, 0.0);
  EXPECT_EQ(flagged.seed, 1u);
  flags.sampler = SamplerKind::kDdpm;
  EXPECT_EQ(sampler_options(config, flags).eta, 1.0);
}

// `sample` and `eval` sample as the checkpoint's sample section says unless --sampler is given; students sample
// as they were distilled to, whatever their teacher's section says.
TEST(Sampling, CommandSamplerFollowsTheCheckpoint) {
  const Config heun = parse_config("sample: {sampler: heun, steps: 18}\n", "a.yaml");
  const CheckpointMeta model;
  EXPECT_EQ(command_sampler("", heun, model), SamplerKind::kHeun);
  EXPECT_EQ(command_sampler("dpmpp_2m", heun, model), SamplerKind::kDpmpp2m);
  CheckpointMeta progressive_student;
  progressive_student.sampling_steps = 4;
  progressive_student.method = "progressive";
  EXPECT_EQ(command_sampler("", heun, progressive_student), SamplerKind::kDdim);
  CheckpointMeta consistency_student;
  consistency_student.sampling_steps = 1;
  consistency_student.method = "consistency";
  EXPECT_EQ(command_sampler("", heun, consistency_student), SamplerKind::kConsistency);
  EXPECT_EQ(command_sampler("heun", heun, consistency_student), SamplerKind::kHeun);
}

// eta is DDIM's: the ODE samplers refuse an --eta and leave the section's (meant for ddim) alone.
TEST(Sampling, EtaIsForDdimOnly) {
  const Config config = parse_config("sample: {sampler: ddim, eta: 0.5}\n", "a.yaml");
  EXPECT_EQ(sampler_options(config, {SamplerKind::kHeun, {}, {}, {}, {}}).eta, 0.0);
  const std::string message = testing::error_message([&] {
    sampler_options(config, {SamplerKind::kHeun, {}, 0.3, {}, {}});
  });
  EXPECT_EQ(message.rfind("--eta 0.3 applies to --sampler ddim only, not to heun", 0), 0u) << message;
  EXPECT_NE(testing::error_message([&] {
              parse_config("sample: {sampler: euler, eta: 0.5}\n", "b.yaml");
            }).find("config key 'sample.eta' in b.yaml: applies to sample.sampler ddim only"),
            std::string::npos);
}

// The ODE samplers' Karras grid comes from the sample section; 0 leaves an end to the schedule.
TEST(Sampling, OdeSamplersTakeTheKarrasGridFromTheSampleSection) {
  const Config config =
      parse_config("sample: {sampler: dpmpp_2m, sigma_min: 0.002, sigma_max: 80, rho: 5}\n", "a.yaml");
  const SamplerOptions options = sampler_options(config);
  EXPECT_EQ(options.sampler, SamplerKind::kDpmpp2m);
  EXPECT_EQ(options.sigma_min, 0.002);
  EXPECT_EQ(options.sigma_max, 80.0);
  EXPECT_EQ(options.rho, 5.0);
  SamplingFlags flags;
  flags.sampler = SamplerKind::kHeun;
  EXPECT_EQ(sampler_options(config, flags).sampler, SamplerKind::kHeun);
  const SamplerOptions defaults = sampler_options(parse_config("", "a.yaml"));
  EXPECT_EQ(defaults.sigma_min, 0.0);
  EXPECT_EQ(defaults.sigma_max, 0.0);
  EXPECT_EQ(defaults.rho, 7.0);
}

// Churn comes from the sample section, for euler and heun: a --sampler of another kind leaves it behind.
TEST(Sampling, ChurnIsForEulerAndHeunOnly) {
  const Config config =
      parse_config("sample: {sampler: heun, s_churn: 40, s_tmin: 0.05, s_tmax: 50, s_noise: 1.003}\n", "a.yaml");
  const SamplerOptions options = sampler_options(config);
  EXPECT_EQ(options.s_churn, 40.0);
  EXPECT_EQ(options.s_tmin, 0.05);
  EXPECT_EQ(options.s_tmax, 50.0);
  EXPECT_EQ(options.s_noise, 1.003);
  EXPECT_EQ(sampler_options(config, {SamplerKind::kEuler, {}, {}, {}, {}}).s_churn, 40.0);
  for (SamplerKind other : {SamplerKind::kDdpm, SamplerKind::kDdim, SamplerKind::kDpmpp2m})
    EXPECT_EQ(sampler_options(config, {other, {}, {}, {}, {}}).s_churn, 0.0) << name_of(kSamplerNames, other);
  const Config defaults = parse_config("", "a.yaml");
  EXPECT_EQ(defaults.sample.s_churn, 0.0);
  EXPECT_EQ(defaults.sample.s_tmin, 0.0);
  EXPECT_GE(defaults.sample.s_tmax, 1e30);
  EXPECT_EQ(defaults.sample.s_noise, 1.0);
  EXPECT_EQ(parse_config(config_to_yaml(config), "copy").sample.s_tmax, 50.0);
  EXPECT_EQ(parse_config(config_to_yaml(defaults), "copy").sample.s_tmax, defaults.sample.s_tmax);
}

TEST(Config, BadChurnValuesNameTheKey) {
  const auto message = [](const std::string& yaml) {
    return testing::error_message([&] { parse_config(yaml, "a.yaml"); });
  };
  EXPECT_EQ(message("sample: {sampler: heun, s_churn: -1}\n"),
            "config key 'sample.s_churn' in a.yaml: must be >= 0 (0 = deterministic)");
  EXPECT_EQ(message("sample: {sampler: euler, s_noise: 0}\n"),
            "config key 'sample.s_noise' in a.yaml: must be positive");
  EXPECT_EQ(message("sample: {sampler: heun, s_tmin: -1}\n"), "config key 'sample.s_tmin' in a.yaml: must be >= 0");
  EXPECT_EQ(message("sample: {sampler: heun, s_tmin: 2, s_tmax: 1}\n"),
            "config key 'sample.s_tmin' in a.yaml: must not be above sample.s_tmax (2 > 1)");
  for (const char* other : {"ddpm", "ddim", "dpmpp_2m"})
    EXPECT_EQ(message(std::string("sample: {sampler: ") + other + ", s_churn: 10}\n"),
              std::string("config key 'sample.s_churn' in a.yaml: applies to sample.sampler euler and heun only, not "
                          "to ") +
                  other + ": set it to 0, or sample with euler or heun");
  EXPECT_NO_THROW(parse_config("sample: {sampler: euler, s_churn: 10, s_tmin: 0.05, s_tmax: 50}\n", "a.yaml"));
}

TEST(Config, MinSnrGammaIsPositiveAndMinSnrsAlone) {
  const Config config = parse_config("diffusion: {loss_weight: min_snr, min_snr_gamma: 2.5}\n", "a.yaml");
  EXPECT_EQ(config.diffusion.loss_weight, LossWeighting::MinSnr);
  EXPECT_EQ(config.diffusion.min_snr_gamma, 2.5);
  EXPECT_EQ(diffusion_setup(config).min_snr_gamma, 2.5);
  EXPECT_EQ(parse_config(config_to_yaml(config), "copy").diffusion.min_snr_gamma, 2.5);
  EXPECT_EQ(parse_config("diffusion: {loss_weight: min_snr}\n", "a.yaml").diffusion.min_snr_gamma, 5.0);
  const auto message = [](const std::string& yaml) {
    return testing::error_message([&] { parse_config(yaml, "a.yaml"); });
  };
  for (const char* gamma : {"0", "-1"})
    EXPECT_EQ(message(std::string("diffusion: {loss_weight: min_snr, min_snr_gamma: ") + gamma + "}\n"),
              "config key 'diffusion.min_snr_gamma' in a.yaml: must be positive");
  EXPECT_EQ(message("diffusion: {loss_weight: snr_trunc, min_snr_gamma: 3}\n"),
            "config key 'diffusion.min_snr_gamma' in a.yaml: applies to diffusion.loss_weight min_snr only, not to "
            "snr_trunc: drop it, or set diffusion.loss_weight min_snr");
  EXPECT_NE(message("diffusion: {min_snr_gamma: 3}\n").find("only, not to simple"), std::string::npos);
}

TEST(Config, BadKarrasGridValuesNameTheKey) {
  const auto message = [](const std::string& yaml) {
    return testing::error_message([&] { parse_config(yaml, "a.yaml"); });
  };
  EXPECT_EQ(message("sample: {sigma_min: -1}\n"),
            "config key 'sample.sigma_min' in a.yaml: must be positive, or 0 for the schedule's smallest");
  EXPECT_EQ(message("sample: {sigma_max: -2}\n"),
            "config key 'sample.sigma_max' in a.yaml: must be positive, or 0 for the schedule's largest");
  EXPECT_EQ(message("sample: {rho: 0}\n"), "config key 'sample.rho' in a.yaml: must be positive");
  EXPECT_EQ(message("sample: {sigma_min: 5, sigma_max: 1}\n"),
            "config key 'sample.sigma_min' in a.yaml: must be below sample.sigma_max (5 >= 1)");
  // Against the schedule's own end: the continuous schedule's smallest VE sigma is exp(-7.5), about 5.5e-4.
  EXPECT_NE(message("sample: {sigma_max: 0.0001}\n").find("config key 'sample.sigma_min' in a.yaml: must be below"),
            std::string::npos);
  EXPECT_NE(message("sample: {rho: .nan}\n").find("config key 'sample.rho' in a.yaml: expected a finite number"),
            std::string::npos);
  EXPECT_NO_THROW(parse_config("sample: {sigma_min: 0.01}\n", "a.yaml"));
}

TEST(Config, LrDecayIsConstantLinearOrCosine) {
  EXPECT_EQ(parse_config("seed: 1\n", "a.yaml").train.lr_decay, LrDecay::kConstant);
  EXPECT_EQ(parse_config("train: {lr_decay: linear}\n", "a.yaml").train.lr_decay, LrDecay::kLinear);
  const Config cosine = parse_config("train: {lr_decay: cosine}\n", "a.yaml");
  EXPECT_EQ(cosine.train.lr_decay, LrDecay::kCosine);
  EXPECT_NE(config_to_yaml(cosine).find("lr_decay: \"cosine\""), std::string::npos) << config_to_yaml(cosine);
  EXPECT_EQ(parse_config(config_to_yaml(cosine), "round trip").train.lr_decay, LrDecay::kCosine);
  EXPECT_EQ(parse_config("", "a.yaml", {"train.lr_decay=cosine"}).train.lr_decay, LrDecay::kCosine);
  const std::string message = testing::error_message([] { parse_config("train: {lr_decay: step}\n", "a.yaml"); });
  EXPECT_NE(message.find("config key 'train.lr_decay' in a.yaml: 'step' is not one of constant, linear, cosine"),
            std::string::npos)
      << message;
  const std::string set = testing::error_message([] { parse_config("", "a.yaml", {"train.lr_decay=exp"}); });
  EXPECT_NE(set.find("config key 'train.lr_decay' in a.yaml with --set overrides: 'exp'"), std::string::npos) << set;
}

TEST(Config, OverridesApplyInOrderAndAreChecked) {
  const Config config =
      parse_config("train: {steps: 10}\n", "a.yaml", {"train.steps=20", "train.ema_rates=[0.9, 0.99]", "seed=7"});
  EXPECT_EQ(config.train.steps, 20);
  EXPECT_EQ(config.train.ema_rates, (std::vector<double>{0.9, 0.99}));
  EXPECT_EQ(config.seed, 7u);
  EXPECT_NE(
      testing::error_message([] { parse_config("", "a.yaml", {"train.stepz=3"}); }).find("'train.stepz' in --set"),
      std::string::npos);
  EXPECT_NE(testing::error_message([] { parse_config("", "a.yaml", {"train.steps"}); }).find("key.sub=value"),
            std::string::npos);
  EXPECT_NE(testing::error_message([] { parse_config("", "a.yaml", {"train.steps=x"}); }).find("expected an integer"),
            std::string::npos);
}

TEST(Config, YamlRoundTripIsExact) {
  const Config config = parse_config("train: {lr: 1.0e-4, ema_rates: [0.9999, 0.999]}\nmodel: {dropout: 0.1}\n",
                                     "a.yaml", {"data.train=some where/train.h5"});
  const std::string yaml = config_to_yaml(config);
  const Config again = parse_config(yaml, "round trip");
  EXPECT_EQ(config_to_yaml(again), yaml);
  EXPECT_DOUBLE_EQ(again.train.lr, 1e-4);
  EXPECT_DOUBLE_EQ(again.model.dropout, 0.1);
  EXPECT_EQ(again.data.train, "some where/train.h5");
}

TEST(Config, MissingFileIsAClearError) {
  EXPECT_NE(testing::error_message([] {
              load_config("/nonexistent/c.yaml");
            }).find("cannot read config file /nonexistent/c.yaml"),
            std::string::npos);
}

TEST(Config, NonFiniteNumbersAreRejected) {
  const std::vector<std::pair<std::string, std::string>> in_file = {
      {"train: {lr: .inf}\n", "config key 'train.lr' in a.yaml: expected a finite number, got '.inf'"},
      {"model: {dropout: .nan}\n", "config key 'model.dropout' in a.yaml: expected a finite number, got '.nan'"},
      {"train: {grad_clip: -.inf}\n", "config key 'train.grad_clip' in a.yaml: expected a finite number, got '-.inf'"},
      {"train: {ema_rates: [0.9, .nan]}\n",
       "config key 'train.ema_rates' in a.yaml: expected a finite number, got '.nan'"},
      {"runtime: {collective_timeout_s: .inf}\n",
       "config key 'runtime.collective_timeout_s' in a.yaml: expected a finite number, got '.inf'"},
  };
  for (const auto& [yaml, expected] : in_file) {
    const std::string message = testing::error_message([&] { parse_config(yaml, "a.yaml"); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
  const std::string set = testing::error_message([] { parse_config("", "a.yaml", {"train.bucket_mb=.inf"}); });
  EXPECT_NE(set.find("config key 'train.bucket_mb' in --set: expected a finite number"), std::string::npos) << set;
}

TEST(Config, RepeatedKeysAndSectionsAreRejected) {
  const std::string key =
      testing::error_message([] { parse_config("train:\n  lr: 1.0e-4\n  lr: 2.0e-4\n", "configs/x.yaml"); });
  EXPECT_NE(key.find("config key 'train.lr' appears twice in configs/x.yaml"), std::string::npos) << key;
  const std::string section = testing::error_message(
      [] { parse_config("train:\n  lr: 1.0e-4\nmodel: {channels: 32}\ntrain:\n  steps: 5\n", "configs/x.yaml"); });
  EXPECT_NE(section.find("config key 'train' appears twice in configs/x.yaml"), std::string::npos) << section;
  const std::string top = testing::error_message([] { parse_config("seed: 1\nseed: 2\n", "configs/x.yaml"); });
  EXPECT_NE(top.find("config key 'seed' appears twice in configs/x.yaml"), std::string::npos) << top;
}

TEST(Config, RepeatedEmaRatesAreRejected) {
  const std::string message =
      testing::error_message([] { parse_config("", "a.yaml", {"train.ema_rates=[0.99, 0.999, 0.99]"}); });
  EXPECT_NE(message.find("config key 'train.ema_rates' in a.yaml with --set overrides: rate 0.99 is listed twice"),
            std::string::npos)
      << message;
  EXPECT_NO_THROW(parse_config("train: {ema_rates: [0.99, 0.999, 0.9999]}\n", "a.yaml"));
}

TEST(Config, ThreadsAndTimestepsAreBounded) {
  const std::string threads = testing::error_message([] { parse_config("runtime: {threads: 100000}\n", "a.yaml"); });
  EXPECT_NE(threads.find("config key 'runtime.threads' in a.yaml: must be in [0, 1024]"), std::string::npos) << threads;
  EXPECT_EQ(parse_config("runtime: {threads: 1024}\n", "a.yaml").runtime.threads, 1024);
  const std::string timesteps =
      testing::error_message([] { parse_config("", "a.yaml", {"diffusion.timesteps=2000000000"}); });
  EXPECT_NE(timesteps.find("config key 'diffusion.timesteps' in a.yaml with --set overrides: must be in [2, 1000000]"),
            std::string::npos)
      << timesteps;
  EXPECT_EQ(parse_config("diffusion: {timesteps: 1000000}\n", "a.yaml").diffusion.timesteps, 1000000);
}

namespace fs = std::filesystem;

class ConfigFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = scratch_.file(name);
    std::ofstream(path) << text;
    return path;
  }

  testing::ScratchDirectory scratch_{"config"};
};

TEST_F(ConfigFileTest, DirectoryIsAnError) {
  const std::string message = testing::error_message([&] { load_config(scratch_.path().string()); });
  EXPECT_NE(message.find("config file " + scratch_.path().string() + " is a directory"), std::string::npos) << message;
}

TEST_F(ConfigFileTest, FileWithoutSettingsIsAnError) {
  for (const std::string& text : {std::string(), std::string("# data:\n#   train: x.h5\n\n"), std::string("{}\n")}) {
    const std::string path = write("c.yaml", text);
    const std::string message = testing::error_message([&] { load_config(path); });
    EXPECT_NE(message.find("config file " + path + " has no settings"), std::string::npos) << message;
  }
}

TEST_F(ConfigFileTest, DataPathsBecomeAbsolute) {
  const std::string path = write("c.yaml", "data: {train: datasets/train.h5, test: ''}\n");
  const Config config = load_config(path, {"eval.features=features.h5"});
  EXPECT_EQ(config.data.train, (fs::current_path() / "datasets/train.h5").string());
  EXPECT_EQ(config.data.test, "");
  EXPECT_EQ(config.eval.features, (fs::current_path() / "features.h5").string());
  EXPECT_EQ(load_config(path, {"data.train=/data/train.h5"}).data.train, "/data/train.h5");
  // A checkpoint's stored copy is taken as it stands.
  EXPECT_EQ(parse_config("data: {train: datasets/train.h5}\n", "stored config").data.train, "datasets/train.h5");
}

}  // namespace
}  // namespace diffuse
