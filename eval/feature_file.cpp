// Feature network files: writing, reading and the weight fingerprint.
#include "eval/feature_file.h"

#include "io/file_context.h"
#include "io/hdf5.h"
#include "io/sha256.h"

namespace diffuse::eval {

namespace {

constexpr const char* kParamsGroup = "/params";
constexpr const char* kWhat = "feature network";  // names the file in errors

}  // namespace

std::string weights_sha256(const WeightMap& weights) {
  static_assert(sizeof(float) == 4, "the hash covers fp32 values");
  Sha256 hash;
  for (const auto& [name, tensor] : weights) {
    hash.update(name.c_str(), name.size() + 1);  // with its NUL terminator
    hash.update(tensor.f32(), tensor.nbytes());  // x86 and ARM are little-endian, as the definition wants
  }
  return hash.hex_digest();
}

std::string short_hash(const std::string& sha256) { return sha256.substr(0, 16); }

void write_feature_file(const std::string& path, FeatureNetworkInfo info, const WeightMap& weights) {
  info.weights_sha256 = weights_sha256(weights);
  Hdf5File file = Hdf5File::create(path, kWhat);
  for (const auto& [name, tensor] : weights)
    file.write(std::string(kParamsGroup) + "/" + name, tensor.shape(), tensor.f32());
  file.set_attribute("format_version", kFeatureFileFormatVersion);
  file.set_attribute("kind", info.kind);
  file.set_attribute("architecture", info.architecture);
  file.set_attribute("image_size", info.image_size);
  file.set_attribute("image_channels", info.image_channels);
  file.set_attribute("feature_dim", info.feature_dim);
  file.set_attribute("num_classes", info.num_classes);
  file.set_attribute("weights_sha256", info.weights_sha256);
  if (!info.channels.empty()) file.set_attribute("channels", info.channels);
  if (info.groups > 0) file.set_attribute("groups", info.groups);
  if (info.test_accuracy >= 0) file.set_attribute("test_accuracy", info.test_accuracy);
  file.commit();
}

FeatureFile read_feature_file(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  return with_file_context(kWhat, path, [&] {
    DIFFUSE_CHECK(file.has_attribute("kind") && file.has_attribute("weights_sha256"),
                  "not a feature network file (no 'kind' or 'weights_sha256' attribute); make one with "
                  "`diffuse train-classifier` or tools/convert_inception_weights.py");
    const int64_t version = file.int_attribute("format_version");
    DIFFUSE_CHECK(version == kFeatureFileFormatVersion, "format_version ", version,
                  " is not supported (this build reads version ", kFeatureFileFormatVersion,
                  "): make the file again with this build's `diffuse train-classifier` or "
                  "tools/convert_inception_weights.py");
    FeatureFile result;
    FeatureNetworkInfo& info = result.info;
    info.kind = file.string_attribute("kind");
    DIFFUSE_CHECK(info.kind == kClassifierKind || info.kind == kInceptionKind, "unknown network kind '", info.kind,
                  "'");
    info.architecture = file.string_attribute("architecture");
    info.image_size = file.int_attribute("image_size");
    info.image_channels = file.int_attribute("image_channels");
    info.feature_dim = file.int_attribute("feature_dim");
    info.num_classes = file.int_attribute("num_classes");
    info.weights_sha256 = file.string_attribute("weights_sha256");
    if (file.has_attribute("channels")) info.channels = file.int_list_attribute("channels");
    if (file.has_attribute("groups")) info.groups = file.int_attribute("groups");
    if (file.has_attribute("test_accuracy")) info.test_accuracy = file.double_attribute("test_accuracy");
    for (const std::string& name : file.names_in(kParamsGroup)) {
      const std::string dataset = std::string(kParamsGroup) + "/" + name;
      const Shape shape = file.dataset_shape(dataset);
      result.weights[name] = from_vector(file.read_floats(dataset), shape);
    }
    const std::string actual = weights_sha256(result.weights);
    DIFFUSE_CHECK(actual == info.weights_sha256, "the weights hash to ", actual, " but the file records ",
                  info.weights_sha256,
                  ": the file is corrupt or was modified; make it again with `diffuse train-classifier` or "
                  "tools/convert_inception_weights.py");
    return result;
  });
}

}  // namespace diffuse::eval
