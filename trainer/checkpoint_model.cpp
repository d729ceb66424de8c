#include "trainer/checkpoint_model.h"

#include <algorithm>

#include "core/error.h"
#include "trainer/model_setup.h"

namespace diffuse {

std::vector<ParameterEntry> checkpoint_layout(const model::ParameterStore& store) {
  std::vector<ParameterEntry> layout;
  for (int64_t i = 0; i < store.count(); ++i) {
    const model::Parameter& parameter = store.at(i);
    layout.push_back({parameter.name, parameter.shape, parameter.offset});
  }
  return layout;
}

std::unique_ptr<CheckpointModel> load_checkpoint_model(const std::string& path, const std::string& ema, Device device) {
  auto loaded = std::make_unique<CheckpointModel>();
  loaded->meta = read_checkpoint_meta(path);
  loaded->config = parse_config(loaded->meta.config_yaml, path + " (stored config)");
  loaded->spec = unet_spec(loaded->config.model);
  loaded->unet = std::make_unique<model::UNet>(loaded->spec, loaded->store);
  loaded->store.finalize(device);
  // Read on the host (the parameters themselves on the CPU backend), then moved to the device.
  const Tensor host = device == Device::CPU ? loaded->store.params() : Tensor::empty(loaded->store.params().shape());

  CheckpointBuffers buffers;
  const std::vector<double> rates = checkpoint_ema_rates(path);
  if (ema == "none" || (ema == "first" && rates.empty())) {
    buffers.params = host;
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
    buffers.ema.emplace_back(rate, host);
  }
  read_checkpoint(path, checkpoint_layout(loaded->store), buffers);
  if (device != Device::CPU) copy(host, loaded->store.params());
  return loaded;
}

}  // namespace diffuse
