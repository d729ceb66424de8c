// Reference features: the cache file's validity keys, reading and writing it,
// and featurizing the dataset when it is missing or stale.
#include "eval/reference_features.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "core/log.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "distributed/rank_share.h"
#include "io/hdf5.h"

namespace diffuse::eval {

namespace {

constexpr const char* kWhat = "reference statistics";  // names the cache file in errors

// What the cache must agree on besides the network: the dataset file as it is now.
struct DatasetStamp {
  int64_t count = 0;
  int64_t bytes = 0;
  int64_t modified_ns = 0;
};

DatasetStamp stamp_of(const std::string& path, int64_t count) {
  struct stat status {};
  DIFFUSE_CHECK(::stat(path.c_str(), &status) == 0, "cannot stat ", path);
  return DatasetStamp{count, static_cast<int64_t>(status.st_size),
                      static_cast<int64_t>(status.st_mtim.tv_sec) * 1000000000 + status.st_mtim.tv_nsec};
}

bool cache_matches(const Hdf5File& file, const FeatureNetworkInfo& info, const DatasetStamp& stamp) {
  for (const char* key : {"weights_sha256", "dataset_count", "dataset_bytes", "dataset_modified_ns"})
    if (!file.has_attribute(key)) return false;
  for (const char* name : {"/features", "/mu", "/sigma"})
    if (!file.exists(name)) return false;
  const int64_t d = info.feature_dim;
  return file.string_attribute("weights_sha256") == info.weights_sha256 &&
         file.int_attribute("dataset_count") == stamp.count && file.int_attribute("dataset_bytes") == stamp.bytes &&
         file.int_attribute("dataset_modified_ns") == stamp.modified_ns &&
         file.dataset_shape("/features") == Shape{stamp.count, d} && file.dataset_shape("/mu") == Shape{d} &&
         file.dataset_shape("/sigma") == Shape{d, d};
}

// The cached features and their statistics, as write_cache stored them.
void read_cache(const Hdf5File& file, const FeatureNetworkInfo& info, const DatasetStamp& stamp,
                ReferenceFeatures& reference) {
  reference.features = from_vector(file.read_floats("/features"), {stamp.count, info.feature_dim});
  reference.statistics.count = stamp.count;
  reference.statistics.dim = info.feature_dim;
  reference.statistics.mean = file.read_doubles("/mu");
  reference.statistics.covariance = file.read_doubles("/sigma");
  reference.from_cache = true;
}

void write_cache(const ReferenceFeatures& reference, const FeatureNetworkInfo& info, const std::string& dataset_path,
                 const DatasetStamp& stamp) {
  Hdf5File file = Hdf5File::create(reference.cache_path, kWhat);
  file.write("/features", reference.features.shape(), reference.features.f32());
  const int64_t d = reference.statistics.dim;
  file.write("/mu", {d}, reference.statistics.mean.data());
  file.write("/sigma", {d, d}, reference.statistics.covariance.data());
  file.set_attribute("weights_sha256", info.weights_sha256);
  file.set_attribute("network_kind", info.kind);
  file.set_attribute("dataset", dataset_path);
  file.set_attribute("dataset_count", stamp.count);
  file.set_attribute("dataset_bytes", stamp.bytes);
  file.set_attribute("dataset_modified_ns", stamp.modified_ns);
  file.commit();
}

// This rank's share of the dataset's features, in dataset order.
Tensor featurize_share(FeatureNetwork& network, const DatasetReader& reader, const RankShare& share, int64_t batch,
                       ProgressLine& progress) {
  const int64_t size = share.end - share.begin;
  Tensor features = Tensor::empty({size, network.info().feature_dim});
  for (int64_t first = share.begin; first < share.end; first += batch) {
    const int64_t n = std::min(batch, share.end - first);
    copy(extract_features(network, reader.read_scaled(first, n), batch),
         features.slice(first - share.begin, first - share.begin + n));
    progress.update_share(first - share.begin + n, size);
  }
  return features;
}

}  // namespace

std::string reference_cache_path(const std::string& dataset_path, const FeatureNetworkInfo& info) {
  return dataset_path + "." + short_hash(info.weights_sha256) + ".stats.h5";
}

ReferenceFeatures reference_features(FeatureNetwork& network, const std::string& network_path,
                                     const std::string& dataset_path, Communicator& communicator, int64_t batch) {
  const FeatureNetworkInfo& info = network.info();
  const DatasetReader reader(dataset_path);
  const DatasetInfo& data = reader.info();
  check_image_shape(info, network_path, data.height, data.width, data.channels,
                    "the images of reference set " + dataset_path);
  const DatasetStamp stamp = stamp_of(dataset_path, data.count);
  ReferenceFeatures reference;
  reference.cache_path = reference_cache_path(dataset_path, info);
  if (std::filesystem::exists(reference.cache_path)) {
    const Hdf5File cache = Hdf5File::open(reference.cache_path, kWhat);
    if (cache_matches(cache, info, stamp)) {
      read_cache(cache, info, stamp, reference);
      return reference;
    }
    if (communicator.rank() == 0)
      log_info("reference statistics ", reference.cache_path, " are stale (other weights or dataset): recomputing");
  }
  const RankShare share = rank_share(data.count, communicator.rank(), communicator.size());
  ProgressLine progress("reference features", data.count, communicator.rank() == 0);
  reference.features =
      gather_rows(communicator, share, featurize_share(network, reader, share, batch, progress), data.count);
  reference.statistics = gaussian_statistics(reference.features);
  if (communicator.rank() == 0) {
    try {
      write_cache(reference, info, dataset_path, stamp);
      log_info("cached reference statistics of ", data.count, " images in ", reference.cache_path);
    } catch (const Error& error) {
      // A read-only dataset folder costs the next run the recomputation, nothing else.
      log_warning("could not cache reference statistics: ", error.what());
    }
  }
  return reference;
}

}  // namespace diffuse::eval
