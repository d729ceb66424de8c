// diffuse import / export against diffusers' UNet2DModel: the committed fixture
// (tools/make_diffusers_fixture.py) imported gives diffusers' output, export and import give back the same
// parameters, and bad directories fail with one error naming what is wrong, writing nothing.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "run/checkpoint_model.h"
#include "run/config.h"
#include "run/diffusers_layout.h"
#include "run/diffusers_transfer.h"
#include "tests/support/file_size_limit.h"
#include "tests/support/nchw_forward.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

const std::string kFixture = std::string(DIFFUSE_SOURCE_DIR) + "/tests/reference/diffusers_tiny";
const std::string kModelDir = kFixture + "/model";
const std::string kConfig = kFixture + "/model.yaml";
// The same kind of fixture with every ADM option on: scale_shift_norm, num_head_channels, resblock_updown.
const std::string kAdmFixture = std::string(DIFFUSE_SOURCE_DIR) + "/tests/reference/diffusers_tiny_adm";

// Runs `action`, which must throw an Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& action, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what() << " lacks " << part;
  }
}

// A copy of the fixture's model directory in `scratch`, its tensors passed through `edit`.
std::string edited_model(const testing::ScratchDirectory& scratch,
                         const std::function<void(std::vector<NamedTensor>&)>& edit) {
  const std::string dir = scratch.file("edited");
  fs::create_directories(dir);
  fs::copy_file(kModelDir + "/config.json", dir + "/config.json");
  const SafetensorsReader reader(kModelDir + "/diffusion_pytorch_model.safetensors");
  std::vector<NamedTensor> tensors;
  for (const SafetensorsEntry& entry : reader.entries()) tensors.push_back({entry.name, reader.read_f32(entry.name)});
  edit(tensors);
  write_safetensors(dir + "/diffusion_pytorch_model.safetensors", tensors);
  return dir;
}

Json read_json(const std::string& path) {
  std::ifstream stream(path);
  return Json::parse(stream);
}

Tensor parameters_of(const std::string& checkpoint) {
  return load_checkpoint_model(checkpoint, "none")->store.params();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.f32(), b.f32(), static_cast<size_t>(a.numel()) * 4) == 0;
}

// Imports the fixture directory `fixture` and checks that our model computes diffusers' output on its inputs.
void expect_import_gives_diffusers_output(const std::string& fixture) {
  testing::ScratchDirectory scratch("diffusers");
  import_diffusers(fixture + "/model", fixture + "/model.yaml", {}, scratch.file("imported.h5"));
  const auto loaded = load_checkpoint_model(scratch.file("imported.h5"), "none");
  const SafetensorsReader io(fixture + "/io.safetensors");
  const Tensor ours = testing::nchw_forward(*loaded->unet, io);
  const Tensor theirs = io.read_f32("output");
  ASSERT_EQ(ours.shape(), theirs.shape());
  float largest = 0.0f, difference = 0.0f;
  for (int64_t i = 0; i < ours.numel(); ++i) {
    largest = std::max(largest, std::abs(theirs.f32()[i]));
    difference = std::max(difference, std::abs(ours.f32()[i] - theirs.f32()[i]));
  }
  EXPECT_GT(largest, 0.1f);
  EXPECT_LE(difference, 1e-4f * largest);
}

TEST(Diffusers, ImportedFixtureGivesDiffusersOutput) { expect_import_gives_diffusers_output(kFixture); }

TEST(Diffusers, ImportedAdmFixtureGivesDiffusersOutput) {
  const Json config = read_json(kAdmFixture + "/model/config.json");
  ASSERT_EQ(config["resnet_time_scale_shift"], "scale_shift");
  ASSERT_EQ(config["downsample_type"], "resnet");
  ASSERT_EQ(config["attention_head_dim"], 4);
  expect_import_gives_diffusers_output(kAdmFixture);
}

TEST(Diffusers, ImportedCheckpointStartsFreshWithEmaAtTheWeights) {
  testing::ScratchDirectory scratch("diffusers");
  const std::string path = scratch.file("imported.h5");
  import_diffusers(kModelDir, kConfig, {}, path);
  const CheckpointMeta meta = read_checkpoint_meta(path);
  EXPECT_EQ(meta.step, 0);
  EXPECT_EQ(checkpoint_ema_rates(path), std::vector<double>{0.99});
  EXPECT_TRUE(same_bits(load_checkpoint_model(path, "0.99")->store.params(), parameters_of(path)));
}

TEST(Diffusers, ExportThenImportGivesTheSameParameters) {
  testing::ScratchDirectory scratch("diffusers");
  import_diffusers(kModelDir, kConfig, {}, scratch.file("first.h5"));
  export_diffusers(scratch.file("first.h5"), "none", scratch.file("exported"));
  EXPECT_TRUE(fs::exists(scratch.file("exported/scheduler_config.json")));
  import_diffusers(scratch.file("exported"), kConfig, {}, scratch.file("second.h5"));
  EXPECT_TRUE(same_bits(parameters_of(scratch.file("first.h5")), parameters_of(scratch.file("second.h5"))));
}

TEST(Diffusers, AdmExportThenImportGivesTheSameParametersAndConfig) {
  testing::ScratchDirectory scratch("diffusers");
  const std::string config = kAdmFixture + "/model.yaml";
  import_diffusers(kAdmFixture + "/model", config, {}, scratch.file("first.h5"));
  export_diffusers(scratch.file("first.h5"), "none", scratch.file("exported"));
  // What diffusers wrote for this model, but for the version-dependent keys export leaves out.
  Json theirs = read_json(kAdmFixture + "/model/config.json");
  for (const char* key : {"_diffusers_version", "num_train_timesteps"}) theirs.erase(key);
  Json ours = read_json(scratch.file("exported/config.json"));
  ours.erase("_diffusers_version");
  for (const auto& [key, value] : theirs.items()) EXPECT_EQ(ours[key], value) << key;
  import_diffusers(scratch.file("exported"), config, {}, scratch.file("second.h5"));
  EXPECT_TRUE(same_bits(parameters_of(scratch.file("first.h5")), parameters_of(scratch.file("second.h5"))));
}

TEST(Diffusers, NumHeadsMapsToTheHeadWidthItGivesEveryAttentionBlock) {
  ModelConfig model = load_config(kConfig).model;  // attention in 16 channels at resolution 4 and the middle
  model.num_heads = 4;
  EXPECT_EQ(diffusers_unet_config(model)["attention_head_dim"], 4);
  model.num_heads = 1;
  model.num_head_channels = 8;
  EXPECT_EQ(diffusers_unet_config(model)["attention_head_dim"], 8);
  model.num_head_channels = 0;
  EXPECT_TRUE(diffusers_unet_config(model)["attention_head_dim"].is_null());
}

TEST(Diffusers, NumHeadsOverBlocksOfDifferentWidthsIsRefusedByName) {
  testing::ScratchDirectory scratch("diffusers");
  const std::vector<std::string> heads = {"model.attention_resolutions=[8,4]", "model.num_heads=2"};
  import_diffusers(kModelDir, kConfig, {}, scratch.file("single.h5"));
  Config config = load_config(kConfig, heads);  // heads of 4 channels at resolution 8, of 8 at 4
  expect_error([&] { check_expressible_in_diffusers(config); },
               {"model.num_heads = 2 makes attention heads of 4 and 8 channels", "one attention_head_dim"});
  expect_error([&] { import_diffusers(kModelDir, kConfig, heads, scratch.file("out.h5")); }, {"model.num_heads = 2"});
  EXPECT_FALSE(fs::exists(scratch.file("out.h5")));
  config.model.num_heads = 1;
  config.model.num_head_channels = 4;  // the same width everywhere: fine
  EXPECT_NO_THROW(check_expressible_in_diffusers(config));
}

TEST(Diffusers, ConfigJsonWithOtherAdmOptionsIsRefusedNamingTheKey) {
  const ModelConfig adm = load_config(kAdmFixture + "/model.yaml").model;
  ModelConfig plain = adm;
  plain.scale_shift_norm = false;
  expect_error([&] { check_diffusers_unet_config(diffusers_unet_config(adm), plain, "x.json"); },
               {"x.json: resnet_time_scale_shift is \"scale_shift\", the config's model has \"default\""});
  plain = adm;
  plain.resblock_updown = false;
  expect_error([&] { check_diffusers_unet_config(diffusers_unet_config(adm), plain, "x.json"); },
               {"x.json: down_block_types is"});
  plain = adm;
  plain.num_head_channels = 8;  // 2 heads where the directory has 4
  expect_error(
      [&] { check_diffusers_unet_config(diffusers_unet_config(adm), plain, "x.json"); },
      {"x.json: attention_head_dim 4 makes 4 heads in the 16-channel attention blocks; the config's model has 2"});
}

TEST(Diffusers, EdmModelExportsWithoutSchedulerConfigAndImportsAlike) {
  testing::ScratchDirectory scratch("diffusers");
  // EDM's keys replace the VP ones (run/config.cpp): the fixture's schedule, prediction and timesteps go.
  const std::string config = scratch.file("edm.yaml");
  {
    YAML::Node yaml = YAML::LoadFile(kConfig);
    yaml["diffusion"] = YAML::Load("{formulation: edm, sigma_data: 0.6}");
    std::ofstream(config) << yaml;
  }
  import_diffusers(kModelDir, config, {}, scratch.file("edm.h5"));
  import_diffusers(kModelDir, kConfig, {}, scratch.file("vp.h5"));
  EXPECT_EQ(load_checkpoint_model(scratch.file("edm.h5"), "none")->config.diffusion.formulation, Formulation::kEdm);
  EXPECT_TRUE(same_bits(parameters_of(scratch.file("edm.h5")), parameters_of(scratch.file("vp.h5"))));

  export_diffusers(scratch.file("edm.h5"), "none", scratch.file("exported"));
  EXPECT_TRUE(fs::exists(scratch.file("exported/config.json")));
  EXPECT_FALSE(fs::exists(scratch.file("exported/scheduler_config.json")));
  import_diffusers(scratch.file("exported"), config, {}, scratch.file("again.h5"));
  EXPECT_TRUE(same_bits(parameters_of(scratch.file("edm.h5")), parameters_of(scratch.file("again.h5"))));

  std::string why_not;
  EXPECT_TRUE(diffusers_scheduler_config(load_config(config).diffusion, why_not).is_null());
  EXPECT_NE(why_not.find("250 ln(sigma) / 4 + 500"), std::string::npos) << why_not;
  EXPECT_NE(why_not.find("sigma_data = 0.6"), std::string::npos) << why_not;
}

TEST(Diffusers, LegacyAttentionNamesImportAlike) {
  testing::ScratchDirectory scratch("diffusers");
  const std::string dir = edited_model(scratch, [](std::vector<NamedTensor>& tensors) {
    const std::vector<std::pair<std::string, std::string>> renames = {
        {".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."}, {".to_out.0.", ".proj_attn."}};
    for (NamedTensor& tensor : tensors)
      for (const auto& [current, legacy] : renames) {
        const size_t at = tensor.name.find(current);
        if (at != std::string::npos) tensor.name.replace(at, current.size(), legacy);
      }
  });
  import_diffusers(kModelDir, kConfig, {}, scratch.file("current.h5"));
  import_diffusers(dir, kConfig, {}, scratch.file("legacy.h5"));
  EXPECT_TRUE(same_bits(parameters_of(scratch.file("current.h5")), parameters_of(scratch.file("legacy.h5"))));
}

TEST(Diffusers, MissingTensorIsNamedAndNothingIsWritten) {
  testing::ScratchDirectory scratch("diffusers");
  const std::string dir = edited_model(scratch, [](std::vector<NamedTensor>& tensors) {
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                                 [](const NamedTensor& t) { return t.name == "mid_block.resnets.1.conv2.weight"; }),
                  tensors.end());
  });
  expect_error([&] { import_diffusers(dir, kConfig, {}, scratch.file("out.h5")); },
               {"has no tensor mid_block.resnets.1.conv2.weight", "mid.block2.conv2.weight"});
  EXPECT_FALSE(fs::exists(scratch.file("out.h5")));
}

TEST(Diffusers, ShapeMismatchNamesTheTensorAndBothShapes) {
  testing::ScratchDirectory scratch("diffusers");
  const std::string dir = edited_model(scratch, [](std::vector<NamedTensor>& tensors) {
    for (NamedTensor& tensor : tensors)
      if (tensor.name == "conv_in.weight") tensor.tensor = Tensor::zeros({8, 3, 3, 3});
  });
  expect_error([&] { import_diffusers(dir, kConfig, {}, scratch.file("out.h5")); },
               {"conv_in.weight", "[8,3,3,3]", "[8,2,3,3]"});
  EXPECT_FALSE(fs::exists(scratch.file("out.h5")));
}

TEST(Diffusers, ExtraTensorIsNamed) {
  testing::ScratchDirectory scratch("diffusers");
  const std::string dir = edited_model(scratch, [](std::vector<NamedTensor>& tensors) {
    tensors.push_back({"extra.weight", Tensor::zeros({2})});
  });
  expect_error([&] { import_diffusers(dir, kConfig, {}, scratch.file("out.h5")); }, {"extra.weight"});
}

TEST(Diffusers, ConfigJsonOfAnotherModelIsRefusedNamingTheKey) {
  testing::ScratchDirectory scratch("diffusers");
  // google/ddpm-cifar10-32 and other ports of the TensorFlow DDPM pad the downsampling conv bottom/right only.
  expect_error([&] { import_diffusers(kModelDir, kConfig, {"model.groups=2"}, scratch.file("out.h5")); },
               {"config.json: norm_num_groups is 4, the config's model has 2"});
  expect_error([&] { import_diffusers(kModelDir, kConfig, {"model.num_classes=0"}, scratch.file("out.h5")); },
               {"num_class_embeds is 4, the config's model has null"});
  Json padded = diffusers_unet_config(load_config(kConfig).model);
  padded["downsample_padding"] = 0;
  expect_error([&] { check_diffusers_unet_config(padded, load_config(kConfig).model, "x.json"); },
               {"x.json: downsample_padding is 0, the config's model has 1"});
  padded = diffusers_unet_config(load_config(kConfig).model);
  padded["attention_head_dim"] = 8;  // two heads of 8 in the 16-channel attention blocks
  expect_error([&] { check_diffusers_unet_config(padded, load_config(kConfig).model, "x.json"); },
               {"attention_head_dim 8"});
  padded["attention_head_dim"] = 16;  // one head everywhere, as ours
  EXPECT_NO_THROW(check_diffusers_unet_config(padded, load_config(kConfig).model, "x.json"));
}

TEST(Diffusers, ConfigJsonValuesOfTheWrongTypeAreRefusedNamingTheKey) {
  const ModelConfig model = load_config(kConfig).model;
  Json wrong = diffusers_unet_config(model);
  wrong["_class_name"] = 5;
  expect_error([&] { check_diffusers_unet_config(wrong, model, "x.json"); }, {"x.json: _class_name is 5"});
  wrong = diffusers_unet_config(model);
  wrong["attention_head_dim"] = (int64_t{1} << 32) + 16;  // 16, the fixture's head width, were it cut to 32 bits
  expect_error([&] { check_diffusers_unet_config(wrong, model, "x.json"); },
               {"x.json: attention_head_dim is 4294967312"});
  wrong["attention_head_dim"] = std::numeric_limits<uint64_t>::max();
  expect_error([&] { check_diffusers_unet_config(wrong, model, "x.json"); },
               {"x.json: attention_head_dim is 18446744073709551615"});
}

// A copy of the fixture's model directory in `scratch` with the scheduler_config.json `scheduler`.
std::string model_with_scheduler(const testing::ScratchDirectory& scratch, const Json& scheduler) {
  const std::string dir = scratch.file("scheduled");
  fs::create_directories(dir);
  for (const char* file : {"config.json", "diffusion_pytorch_model.safetensors"})
    fs::copy_file(kModelDir + "/" + file, dir + "/" + file);
  std::ofstream(dir + "/scheduler_config.json") << scheduler.dump(2);
  return dir;
}

TEST(Diffusers, SchedulerConfigOfAnotherScheduleIsRefusedNamingTheKey) {
  testing::ScratchDirectory scratch("diffusers");
  std::string why_not;
  const Json ours = diffusers_scheduler_config(load_config(kConfig).diffusion, why_not);
  import_diffusers(model_with_scheduler(scratch, ours), kConfig, {}, scratch.file("same.h5"));
  for (const auto& [key, value] : std::vector<std::pair<std::string, Json>>{
           {"prediction_type", "v_prediction"}, {"beta_schedule", "squaredcos_cap_v2"}, {"num_train_timesteps", 500}}) {
    testing::ScratchDirectory other("diffusers");
    Json theirs = ours;
    theirs[key] = value;
    const std::string dir = model_with_scheduler(other, theirs);
    expect_error([&] { import_diffusers(dir, kConfig, {}, other.file("out.h5")); },
                 {dir + "/scheduler_config.json: " + key + " is " + value.dump() + ", the config's model has " +
                  ours[key].dump()});
    EXPECT_FALSE(fs::exists(other.file("out.h5")));
  }
  // diffusers' defaults stand for absent keys: "linear" and 1000 steps are the fixture's.
  testing::ScratchDirectory sparse("diffusers");
  const std::string dir = model_with_scheduler(sparse, {{"prediction_type", "sample"}});
  expect_error([&] { import_diffusers(dir, kConfig, {}, sparse.file("out.h5")); },
               {"prediction_type is \"sample\", the config's model has \"epsilon\""});
}

TEST(Diffusers, SchedulerConfigIsIgnoredForAScheduleWithoutOne) {
  testing::ScratchDirectory scratch("diffusers");
  const std::string dir = model_with_scheduler(scratch, {{"prediction_type", "v_prediction"}});
  import_diffusers(dir, kConfig, {"diffusion.schedule=cosine_continuous"}, scratch.file("out.h5"));
  EXPECT_TRUE(fs::exists(scratch.file("out.h5")));
}

TEST(Diffusers, ParameterWithoutADiffusersNameIsNamed) {
  model::ParameterStore store;
  store.declare("conv_in.weight", {8, 3, 3, 2}, {});
  store.declare("down.0.block.0.emb_layers.weight", {8, 32}, {});
  expect_error([&] { diffusers_tensors(store); }, {"parameter down.0.block.0.emb_layers.weight has no diffusers name"});
}

TEST(Diffusers, SampleSizeMayBeHeightAndWidth) {
  const ModelConfig model = load_config(kConfig).model;
  Json config = diffusers_unet_config(model);
  config["sample_size"] = {8, 8};
  EXPECT_NO_THROW(check_diffusers_unet_config(config, model, "x.json"));
  config["sample_size"] = {8, 16};
  expect_error([&] { check_diffusers_unet_config(config, model, "x.json"); }, {"sample_size is [8,16]"});
}

TEST(Diffusers, PickleOnlyDirectorySaysHowToConvert) {
  testing::ScratchDirectory scratch("diffusers");
  fs::create_directories(scratch.file("pickled"));
  fs::copy_file(kModelDir + "/config.json", scratch.file("pickled/config.json"));
  { std::ofstream(scratch.file("pickled/diffusion_pytorch_model.bin")) << "pickle"; }
  expect_error([&] { import_diffusers(scratch.file("pickled"), kConfig, {}, scratch.file("out.h5")); },
               {"diffusion_pytorch_model.bin", "safe_serialization=True"});
}

TEST(Diffusers, ExportRefusesANonEmptyDirectory) {
  testing::ScratchDirectory scratch("diffusers");
  import_diffusers(kModelDir, kConfig, {}, scratch.file("imported.h5"));
  fs::create_directories(scratch.file("taken"));
  { std::ofstream(scratch.file("taken/notes.txt")) << "mine"; }
  expect_error([&] { export_diffusers(scratch.file("imported.h5"), "first", scratch.file("taken")); },
               {"taken exists and is not an empty directory"});
  EXPECT_FALSE(fs::exists(scratch.file("taken/config.json")));
}

// Everything but `kept` in `directory`: what a failed export left behind.
std::vector<std::string> entries_besides(const std::string& directory, const std::string& kept) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory))
    if (entry.path().filename() != kept) names.push_back(entry.path().filename().string());
  return names;
}

TEST(Diffusers, FailedExportLeavesNothingBehind) {
  testing::ScratchDirectory scratch("diffusers");
  import_diffusers(kModelDir, kConfig, {}, scratch.file("imported.h5"));
  const std::string parent = scratch.file("parent");
  fs::create_directories(parent);
  fs::copy_file(scratch.file("imported.h5"), parent + "/imported.h5");
  {
    const testing::FileSizeLimit full_disk(4096);  // the weights do not fit
    expect_error([&] { export_diffusers(parent + "/imported.h5", "none", parent + "/exported"); },
                 {"diffusion_pytorch_model.safetensors"});
  }
  EXPECT_EQ(entries_besides(parent, "imported.h5"), std::vector<std::string>());
  // An empty --out directory stays as it was.
  fs::create_directories(parent + "/empty");
  {
    const testing::FileSizeLimit full_disk(4096);
    expect_error([&] { export_diffusers(parent + "/imported.h5", "none", parent + "/empty/"); },
                 {"diffusion_pytorch_model.safetensors"});
  }
  EXPECT_TRUE(fs::is_empty(parent + "/empty"));
  EXPECT_EQ(entries_besides(parent, "imported.h5"), std::vector<std::string>{"empty"});
  export_diffusers(parent + "/imported.h5", "none", parent + "/empty/");
  EXPECT_TRUE(fs::exists(parent + "/empty/config.json"));
  EXPECT_EQ(entries_besides(parent, "imported.h5"), std::vector<std::string>{"empty"});
}

TEST(Diffusers, UnreadableOutPathIsOneErrorNamingIt) {
  testing::ScratchDirectory scratch("diffusers");
  import_diffusers(kModelDir, kConfig, {}, scratch.file("imported.h5"));
  fs::create_directory_symlink("loop", scratch.file("loop"));  // a path under it cannot be resolved (ELOOP)
  expect_error([&] { export_diffusers(scratch.file("imported.h5"), "none", scratch.file("loop/exported")); },
               {scratch.file("loop/exported")});
  expect_error([&] { import_diffusers(kModelDir, kConfig, {}, scratch.file("loop/out.h5")); },
               {scratch.file("loop/out.h5")});
}

TEST(Diffusers, ContinuousScheduleExportsWithoutSchedulerConfig) {
  std::string why_not;
  DiffusionConfig diffusion;
  diffusion.schedule = ScheduleKind::CosineContinuous;
  EXPECT_TRUE(diffusers_scheduler_config(diffusion, why_not).is_null());
  EXPECT_NE(why_not.find("continuous-time"), std::string::npos);
  diffusion.schedule = ScheduleKind::Cosine;
  diffusion.prediction = Prediction::V;
  const Json scheduler = diffusers_scheduler_config(diffusion, why_not);
  EXPECT_EQ(scheduler["beta_schedule"], "squaredcos_cap_v2");
  EXPECT_EQ(scheduler["prediction_type"], "v_prediction");
}

// Every model and diffusion setting is one export maps: a new one must be mapped or refused before it can reach
// a diffusers directory unnoticed (check_expressible_in_diffusers refuses it when set).
TEST(Diffusers, EveryModelAndDiffusionSettingIsMapped) {
  const YAML::Node schema = YAML::Load(config_to_yaml(Config{}));
  const std::vector<std::string>& mapped = diffusers_mapped_keys();
  for (const char* section : {"model", "diffusion"})
    for (const auto& entry : schema[section]) {
      const std::string key = std::string(section) + "." + entry.first.as<std::string>();
      EXPECT_NE(std::find(mapped.begin(), mapped.end(), key), mapped.end()) << key << " is not mapped";
    }
  EXPECT_NO_THROW(check_expressible_in_diffusers(Config{}));
}

// Settings that only change training export as they are.
TEST(Diffusers, TrainingOnlySettingsExport) {
  Config config;
  config.diffusion.loss_weight = LossWeighting::MinSnr;
  config.diffusion.min_snr_gamma = 3.0;
  config.diffusion.class_dropout = 0.2;
  EXPECT_NO_THROW(check_expressible_in_diffusers(config));
}

}  // namespace
}  // namespace diffuse
