// Export to and import from diffusers UNet2DModel directories.
#include "run/diffusers_transfer.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/json.h"
#include "io/output_path.h"
#include "io/safetensors.h"
#include "run/checkpoint_model.h"
#include "run/config.h"
#include "run/diffusers_layout.h"
#include "run/model_setup.h"

namespace diffuse {

namespace {

namespace fs = std::filesystem;

constexpr const char* kWeightsFile = "diffusion_pytorch_model.safetensors";
constexpr const char* kSchedulerFile = "scheduler_config.json";

// fs::exists and fs::is_empty whose failures (a path through a symlink loop, an unreadable directory) are Errors
// naming the path rather than filesystem_errors.
bool path_exists(const fs::path& path) {
  std::error_code error;
  const bool found = fs::exists(path, error);
  DIFFUSE_CHECK(!error, "cannot look for ", path.string(), ": ", error.message());
  return found;
}
bool is_empty_directory(const fs::path& path) {
  std::error_code error;
  const bool empty = fs::is_directory(path, error) && fs::is_empty(path, error);
  DIFFUSE_CHECK(!error, "cannot look into ", path.string(), ": ", error.message());
  return empty;
}

// `path` without trailing separators ("out/" is "out"), so that its parent is the directory holding it.
fs::path without_trailing_separator(const std::string& path) {
  fs::path trimmed(path);
  while (!trimmed.has_filename() && trimmed.has_relative_path()) trimmed = trimmed.parent_path();
  return trimmed;
}

Json read_json_file(const std::string& path) {
  std::ifstream stream(path);
  DIFFUSE_CHECK(stream, "cannot read ", path);
  std::stringstream text;
  text << stream.rdbuf();
  try {
    return Json::parse(text.str());
  } catch (const Json::exception& error) {
    DIFFUSE_CHECK(false, path, " is not valid JSON: ", error.what());
  }
  return Json();
}

// Refuses a scheduler_config.json in `from_dir` that describes another schedule or prediction than what export
// would write for `diffusion`; one is ignored where export writes none (diffusers' schedulers cannot express it).
void check_scheduler_config(const std::string& from_dir, const DiffusionConfig& diffusion) {
  const std::string path = (fs::path(from_dir) / kSchedulerFile).string();
  if (!path_exists(path)) return;
  std::string no_scheduler;
  const Json ours = diffusers_scheduler_config(diffusion, no_scheduler);
  if (ours.is_null()) {
    log_warning("ignoring ", path, ": ", no_scheduler);
    return;
  }
  check_diffusers_scheduler_config(read_json_file(path), ours, path);
}

}  // namespace

void export_diffusers(const std::string& checkpoint, const std::string& ema, const std::string& out_dir) {
  const fs::path out = without_trailing_separator(out_dir);
  check_output_path(out.string(), "--out", {});
  DIFFUSE_CHECK(!path_exists(out) || is_empty_directory(out), "--out ", out_dir,
                " exists and is not an empty directory; it is not overwritten");
  const std::unique_ptr<CheckpointModel> loaded = load_checkpoint_model(checkpoint, ema);
  check_expressible_in_diffusers(loaded->config);
  std::vector<NamedTensor> tensors;
  for (const DiffusersTensor& tensor : diffusers_tensors(loaded->store))
    tensors.push_back({tensor.name, to_diffusers(tensor, loaded->store.value(tensor.parameter))});
  std::string no_scheduler;
  const Json scheduler = diffusers_scheduler_config(loaded->config.diffusion, no_scheduler);

  // The files go into a sibling directory that becomes --out only when whole, so a failure leaves nothing.
  const fs::path staging = out.parent_path() / concat(".", out.filename().string(), ".tmp-", ::getpid());
  std::error_code error;
  DIFFUSE_CHECK(fs::create_directory(staging, error), "cannot create ", staging.string(), ": ",
                error ? error.message() : "it exists");
  try {
    write_safetensors((staging / kWeightsFile).string(), tensors, {{"format", "pt"}});
    write_json_file((staging / "config.json").string(), diffusers_unet_config(loaded->config.model));
    if (!scheduler.is_null()) write_json_file((staging / kSchedulerFile).string(), scheduler);
    fs::rename(staging, out, error);  // replaces an empty --out directory
    DIFFUSE_CHECK(!error, "cannot rename ", staging.string(), " to --out ", out_dir, ": ", error.message());
  } catch (...) {
    fs::remove_all(staging, error);
    throw;
  }
  if (scheduler.is_null()) log_warning("no scheduler_config.json written: ", no_scheduler);
  log_info("wrote the UNet2DModel of ", checkpoint, " (", loaded->store.numel(), " parameters) to ", out_dir);
}

void import_diffusers(const std::string& from_dir, const std::string& config_path,
                      const std::vector<std::string>& overrides, const std::string& out) {
  check_output_path(out, "--out", {".h5"});
  DIFFUSE_CHECK(!path_exists(out), "--out ", out, " already exists; it is not overwritten");
  const std::string weights = (fs::path(from_dir) / kWeightsFile).string();
  if (!path_exists(weights)) {
    const bool pickle = path_exists(fs::path(from_dir) / "diffusion_pytorch_model.bin");
    DIFFUSE_CHECK(!pickle, from_dir,
                  " holds only diffusion_pytorch_model.bin (a pickle, not read here): convert it to safetensors "
                  "with python -c \"from diffusers import UNet2DModel; m = UNet2DModel.from_pretrained('",
                  from_dir, "'); m.save_pretrained('", from_dir, "', safe_serialization=True)\"");
    DIFFUSE_CHECK(false, from_dir, " has no ", kWeightsFile);
  }
  const Config config = load_config(config_path, overrides);
  const std::string config_json = (fs::path(from_dir) / "config.json").string();
  check_diffusers_unet_config(read_json_file(config_json), config.model, config_json);
  check_scheduler_config(from_dir, config.diffusion);

  model::ParameterStore store;
  model::UNet unet(unet_spec(config.model), store);
  store.finalize(Device::CPU);
  const SafetensorsReader reader(weights);
  std::set<std::string> unused;
  for (const SafetensorsEntry& entry : reader.entries()) unused.insert(entry.name);
  for (const DiffusersTensor& tensor : diffusers_tensors(store)) {
    const std::string name = reader.contains(tensor.name) || tensor.legacy.empty() || !reader.contains(tensor.legacy)
                                 ? tensor.name
                                 : tensor.legacy;
    DIFFUSE_CHECK(reader.contains(name), weights, " has no tensor ", tensor.name, " (", tensor.parameter,
                  " of the config's model, ", Tensor::empty(tensor.shape).describe(), ")");
    const Tensor value = reader.read_f32(name);
    DIFFUSE_CHECK(value.shape() == tensor.shape, weights, ": tensor ", name, " is ", value.describe(),
                  ", the config's model has ", Tensor::empty(tensor.shape).describe());
    from_diffusers(tensor, value, store.value(tensor.parameter));
    unused.erase(name);
  }
  DIFFUSE_CHECK(unused.empty(), weights, " has tensor ", unused.empty() ? "" : *unused.begin(),
                " that the config's model does not have");

  CheckpointMeta meta;
  meta.seed = config.seed;
  meta.config_yaml = config_to_yaml(config);
  CheckpointBuffers buffers;
  buffers.params = store.params();
  for (const double rate : config.train.ema_rates) buffers.ema.emplace_back(rate, store.params());
  buffers.adam_m = Tensor::zeros({store.numel()});
  buffers.adam_v = Tensor::zeros({store.numel()});
  write_checkpoint(out, checkpoint_layout(store), meta, buffers);
  log_info("wrote ", out, " (step 0, ", store.numel(), " parameters) from ", from_dir);
}

}  // namespace diffuse
