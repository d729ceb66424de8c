#include "io/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "core/log.h"
#include "io/file_context.h"
#include "io/hdf5.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "ckpt-";
constexpr const char* kSuffix = ".h5";
constexpr const char* kWhat = "checkpoint";  // names the file in errors

std::string rate_name(double rate) {
  std::ostringstream text;
  text.precision(17);
  text << rate;
  return text.str();
}

void write_buffer_group(Hdf5File& file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                        const Tensor& buffer) {
  for (const ParameterEntry& entry : layout)
    file.write(group_path + "/" + entry.name, entry.shape, buffer.f32() + entry.offset);
}

void read_buffer_group(const Hdf5File& file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                       const Tensor& buffer) {
  DIFFUSE_CHECK(file.exists(group_path), "group ", group_path, " is missing");
  for (const ParameterEntry& entry : layout) {
    const std::string path = group_path + "/" + entry.name;
    DIFFUSE_CHECK(file.exists(path), "parameter '", entry.name, "' of this model is not in ", group_path,
                  ": the checkpoint is of another architecture");
    const Shape stored = file.dataset_shape(path);
    DIFFUSE_CHECK(stored == entry.shape, "parameter '", entry.name, "' has shape ", shape_string(entry.shape),
                  " in this model but ", shape_string(stored), " in ", group_path,
                  ": the checkpoint is of another architecture");
    float* values = buffer.f32() + entry.offset;
    file.read(path, values);
    // Weights that are not finite would train or sample nothing but NaN: refuse them where they are named.
    const float* bad =
        std::find_if(values, values + shape_numel(entry.shape), [](float v) { return !std::isfinite(v); });
    DIFFUSE_CHECK(bad == values + shape_numel(entry.shape), "parameter '", entry.name, "' in ", group_path, " holds ",
                  *bad, " at element ", bad - values, ": the checkpoint's weights are not finite");
  }
}

CheckpointMeta read_meta(const Hdf5File& file) {
  CheckpointMeta meta;
  const int64_t version = file.int_attribute("format_version");
  DIFFUSE_CHECK(version == kCheckpointFormatVersion, "format_version ", version, " is not supported (this build reads ",
                kCheckpointFormatVersion, ")");
  meta.step = file.int_attribute("step");
  meta.epoch = file.int_attribute("epoch");
  meta.samples_seen = file.int_attribute("samples_seen");
  meta.world_size = static_cast<int>(file.int_attribute("world_size"));
  meta.loss_scale = file.double_attribute("loss_scale");
  meta.loss_scale_good_steps = file.int_attribute("loss_scale_good_steps");
  meta.seed = file.uint_attribute("seed");
  meta.config_yaml = file.string_attribute("config");
  if (file.has_attribute("sampling_steps"))
    meta.sampling_steps = static_cast<int>(file.int_attribute("sampling_steps"));
  if (file.has_attribute("method")) meta.method = file.string_attribute("method");
  if (file.has_attribute("window_steps")) {  // absent from checkpoints older than the attribute: no open window
    meta.window_steps = file.int_attribute("window_steps");
    meta.window_loss_sum = file.double_attribute("window_loss_sum");
  }
  return meta;
}

}  // namespace

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "%s%08lld%s", kPrefix, static_cast<long long>(step), kSuffix);
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

namespace {
// The step of a checkpoint named ckpt-<digits>.h5; nothing for any other name.
std::optional<int64_t> step_in_name(const std::string& name) {
  const size_t prefix = std::strlen(kPrefix), suffix = std::strlen(kSuffix);
  if (name.size() <= prefix + suffix || name.rfind(kPrefix, 0) != 0 ||
      name.compare(name.size() - suffix, suffix, kSuffix) != 0)
    return std::nullopt;
  const char* first = name.data() + prefix;
  const char* last = name.data() + name.size() - suffix;
  if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  int64_t step = 0;
  if (std::from_chars(first, last, step).ec != std::errc()) return std::nullopt;  // too many digits
  return step;
}
}  // namespace

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  const fs::path directory = fs::path(run_dir) / "checkpoints";
  std::error_code error;
  if (!fs::is_directory(directory, error)) return {};
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::optional<int64_t> step = step_in_name(entry.path().filename().string());
    if (step) found.emplace_back(*step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& [step, path] : found) paths.push_back(std::move(path));
  return paths;
}

std::string newest_checkpoint(const std::string& run_dir) {
  const std::vector<std::string> found = list_checkpoints(run_dir);
  return found.empty() ? std::string() : found.back();
}

void prune_checkpoints(const std::string& run_dir, int keep) {
  const std::vector<std::string> found = list_checkpoints(run_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < found.size(); ++i) fs::remove(found[i]);
}

void check_checkpoint_complete(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  with_file_context(kWhat, path, [&] {
    read_meta(file);
    DIFFUSE_CHECK(file.exists("/params"), "group /params is missing");
    const std::vector<std::string> names = file.names_in("/params");
    std::vector<std::string> groups;
    if (file.exists("/ema"))
      for (const std::string& rate : file.names_in("/ema")) groups.push_back("/ema/" + rate);
    for (const char* moments : {"/optimizer/m", "/optimizer/v"})
      if (file.exists(moments)) groups.emplace_back(moments);
    for (const std::string& group : groups) {
      for (const std::string& name : names) {
        const std::string dataset = group + "/" + name;
        DIFFUSE_CHECK(file.exists(dataset), "dataset ", dataset, " is missing");
        const Shape stored = file.dataset_shape(dataset), expected = file.dataset_shape("/params/" + name);
        DIFFUSE_CHECK(stored == expected, "dataset ", dataset, " has shape ", shape_string(stored), " but /params/",
                      name, " has ", shape_string(expected));
      }
    }
  });
}

std::string newest_complete_checkpoint(const std::string& run_dir) {
  const std::vector<std::string> found = list_checkpoints(run_dir);
  std::string newest_problem;
  for (auto candidate = found.rbegin(); candidate != found.rend(); ++candidate) {
    try {
      check_checkpoint_complete(*candidate);
      return *candidate;
    } catch (const Error& error) {
      log_warning("cannot resume from ", error.what(),
                  "; falling back to the checkpoint before it (this one is left as it is)");
      if (newest_problem.empty()) newest_problem = error.what();
    }
  }
  DIFFUSE_CHECK(found.empty(), "none of the ", found.size(), " checkpoint(s) in ", run_dir,
                "/checkpoints is complete; the newest: ", newest_problem);
  return "";
}

void write_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, const CheckpointMeta& meta,
                      const CheckpointBuffers& buffers) {
  Hdf5File file = Hdf5File::create(path, kWhat);
  file.set_attribute("format_version", int32_t{kCheckpointFormatVersion});
  file.set_attribute("step", meta.step);
  file.set_attribute("epoch", meta.epoch);
  file.set_attribute("samples_seen", meta.samples_seen);
  file.set_attribute("world_size", int32_t{meta.world_size});
  file.set_attribute("loss_scale", meta.loss_scale);
  file.set_attribute("loss_scale_good_steps", meta.loss_scale_good_steps);
  file.set_attribute("seed", meta.seed);
  file.set_attribute("config", meta.config_yaml);
  if (meta.sampling_steps > 0) file.set_attribute("sampling_steps", int32_t{meta.sampling_steps});
  if (!meta.method.empty()) file.set_attribute("method", meta.method);
  file.set_attribute("window_steps", meta.window_steps);
  file.set_attribute("window_loss_sum", meta.window_loss_sum);
  write_buffer_group(file, "/params", layout, buffers.params);
  for (const auto& [rate, buffer] : buffers.ema) write_buffer_group(file, "/ema/" + rate_name(rate), layout, buffer);
  if (buffers.adam_m.defined()) write_buffer_group(file, "/optimizer/m", layout, buffers.adam_m);
  if (buffers.adam_v.defined()) write_buffer_group(file, "/optimizer/v", layout, buffers.adam_v);
  file.commit();
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  return with_file_context(kWhat, path, [&] { return read_meta(file); });
}

void read_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, CheckpointBuffers& buffers) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  with_file_context(kWhat, path, [&] {
    read_meta(file);  // validates the format version
    if (buffers.params.defined()) read_buffer_group(file, "/params", layout, buffers.params);
    for (auto& [rate, buffer] : buffers.ema) read_buffer_group(file, "/ema/" + rate_name(rate), layout, buffer);
    if (buffers.adam_m.defined()) read_buffer_group(file, "/optimizer/m", layout, buffers.adam_m);
    if (buffers.adam_v.defined()) read_buffer_group(file, "/optimizer/v", layout, buffers.adam_v);
  });
}

std::vector<double> checkpoint_ema_rates(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  std::vector<double> rates;
  if (!file.exists("/ema")) return rates;
  for (const std::string& name : file.names_in("/ema")) rates.push_back(std::stod(name));
  return rates;
}

}  // namespace diffuse
