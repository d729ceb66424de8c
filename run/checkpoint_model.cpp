#include "run/checkpoint_model.h"

#include <algorithm>

#include "core/error.h"
#include "run/model_setup.h"

namespace diffuse {

std::vector<ParameterEntry> checkpoint_layout(const model::ParameterStore& store) {
  std::vector<ParameterEntry> layout;
  for (int64_t i = 0; i < store.count(); ++i) {
    const model::Parameter& parameter = store.at(i);
    layout.push_back({parameter.name, parameter.shape, parameter.offset});
  }
  return layout;
}

namespace {

// The U-Net that `config` describes, its parameters on `device`, not yet loaded.
std::unique_ptr<CheckpointModel> build_model(const CheckpointMeta& meta, const Config& config, Device device) {
  auto built = std::make_unique<CheckpointModel>();
  built->meta = meta;
  built->config = config;
  built->spec = unet_spec(config.model);
  built->unet = std::make_unique<model::UNet>(built->spec, built->store);
  built->store.finalize(device);
  return built;
}

}  // namespace

std::unique_ptr<CheckpointModel> load_checkpoint_model(const std::string& path, const std::string& ema, Device device) {
  const CheckpointMeta meta = read_checkpoint_meta(path);
  // Read on the host, then copied to the device.
  std::unique_ptr<CheckpointModel> loaded =
      build_model(meta, parse_config(meta.config_yaml, path + " (stored config)"), Device::CPU);

  CheckpointBuffers buffers;
  const std::vector<double> rates = checkpoint_ema_rates(path);
  if (ema == "none" || (ema == "first" && rates.empty())) {
    buffers.params = loaded->store.params();
  } else {
    double rate = 0.0;
    if (ema == "first") {
      // The config's first rate (the one the trainer samples from); the file lists its groups by name.
      const std::vector<double>& configured = loaded->config.train.ema_rates;
      rate = configured.empty() ? rates.front() : configured.front();
    } else {
      try {
        rate = std::stod(ema);
      } catch (const std::exception&) {
        DIFFUSE_CHECK(false, "--ema must be 'first', 'none' or a rate, got '", ema, "'");
      }
    }
    DIFFUSE_CHECK(std::find(rates.begin(), rates.end(), rate) != rates.end(), "checkpoint ", path,
                  " has no EMA weights at rate ", ema);
    buffers.ema.emplace_back(rate, loaded->store.params());
  }
  read_checkpoint(path, checkpoint_layout(loaded->store), buffers);
  return device == Device::CPU ? std::move(loaded) : checkpoint_model_on(*loaded, device);
}

std::unique_ptr<CheckpointModel> checkpoint_model_on(const CheckpointModel& source, Device device) {
  std::unique_ptr<CheckpointModel> moved = build_model(source.meta, source.config, device);
  copy(source.store.params(), moved->store.params());
  return moved;
}

}  // namespace diffuse
