#include "eval/run_eval.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "core/log.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/dataset_writer.h"
#include "distributed/communicator.h"
#include "distributed/rank_share.h"
#include "eval/evaluation.h"
#include "eval/feature_network.h"
#include "eval/published_statistics.h"
#include "eval/reference_features.h"
#include "eval/sample_generation.h"
#include "io/json.h"
#include "io/output_path.h"
#include "io/sha256.h"
#include "run/checkpoint_model.h"
#include "run/config.h"
#include "run/model_setup.h"
#include "run/run_session.h"
#include "run/sampling.h"

namespace diffuse::eval {

namespace {

// This rank's share of an image file: pixels in [-1, 1] and labels (undefined when the file has none).
void read_image_share(const DatasetReader& reader, const RankShare& share, Tensor& images, Tensor& labels) {
  const int64_t n = share.end - share.begin;
  images = reader.read_scaled(share.begin, n);
  if (!reader.info().has_labels) return;
  labels = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) labels.i32()[i] = reader.labels()[static_cast<size_t>(share.begin + i)];
}

// Gathers every rank's samples and their labels; rank 0 writes them as a dataset file.
void save_samples(const EvalOptions& options, int64_t count, Communicator& communicator, const RankShare& share,
                  const Tensor& local_images, const model::UNetSpec& spec) {
  const Tensor images = gather_rows(communicator, share, local_images, count);
  const Tensor labels = sample_labels(LabelOrder::kInterleaved, spec.num_classes, count, 0, count);
  if (communicator.rank() != 0) return;
  write_image_dataset(options.save_samples, images, labels, spec.num_classes,
                      "diffuse eval --ckpt " + options.checkpoint, Overwrite::Replace);
  log_info("saved the ", count, " samples to ", options.save_samples);
}

}  // namespace

int64_t images_to_evaluate(std::optional<int64_t> count, int64_t available, const std::string& images_path) {
  if (!count) return available;
  DIFFUSE_CHECK(*count <= available, "--n ", *count, " but --images ", images_path, " has only ", available, " images");
  return *count;
}

void run_eval(const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  DIFFUSE_CHECK(options.checkpoint.empty() != options.images.empty(),
                "give exactly one of --ckpt (sample a model) and --images (evaluate an image file)");
  DIFFUSE_CHECK(options.reference.empty() != options.reference_stats.empty(),
                "give exactly one of --ref (a reference dataset) and --ref-stats (published statistics, .npz)");
  // The outputs are checked before anything is loaded: sampling can take minutes.
  check_output_path(options.out, "--out", {".json"});
  if (!options.save_samples.empty()) {
    DIFFUSE_CHECK(!options.checkpoint.empty(), "--save-samples needs --ckpt: there are no samples to save");
    check_output_path(options.save_samples, "--save-samples", {".h5"});
  }
  // Only sampling computes on --device; features are extracted on the CPU.
  RuntimeConfig runtime;
  runtime.device =
      options.checkpoint.empty() ? DeviceRequest::kCpu : value_named(kDeviceRequestNames, options.device, "--device");
  RunSession session(runtime, "--device", SessionKind::kHostCollectives);
  Communicator& communicator = session.communicator();
  const int rank = communicator.rank();

  std::unique_ptr<FeatureNetwork> network = load_feature_network(options.features);
  const FeatureNetworkInfo& info = network->info();
  EvaluationReport report;
  report.context["features"] = options.features;
  report.context["feature_network"] = info.kind;
  report.context["feature_sha256"] = info.weights_sha256;
  std::unique_ptr<const DatasetReader> reference_reader;  // --ref
  std::optional<GaussianStatistics> published;            // --ref-stats
  if (!options.reference.empty()) {
    reference_reader = std::make_unique<const DatasetReader>(options.reference);
    report.context["reference"] = options.reference;
  } else {
    published = read_published_statistics(options.reference_stats, info.feature_dim, options.features);
    report.context["reference_stats"] = options.reference_stats;
    report.context["reference_stats_sha256"] = file_sha256(options.reference_stats);
    if (rank == 0)
      log_info("--ref-stats gives FID alone: KID and precision/recall need the reference features, which ",
               options.reference_stats, " does not hold");
  }
  // The reference dataset holds images like those evaluated, and enough of them.
  auto check_reference = [&](int64_t size, int64_t channels, const std::string& what) {
    if (!reference_reader) return;
    const DatasetInfo& reference_info = reference_reader->info();
    check_reference_shape(options.reference, reference_info.height, reference_info.width, reference_info.channels, size,
                          channels, what);
    check_sample_count(reference_info.count, info.feature_dim, "reference set " + options.reference);
  };

  Tensor local_images, local_labels;  // this rank's share of the images to evaluate, labels if known
  RankShare share;
  int64_t count = 0;
  if (!options.images.empty()) {
    const DatasetReader reader(options.images);
    const DatasetInfo& data = reader.info();
    count = images_to_evaluate(options.count, data.count, options.images);
    check_image_shape(info, options.features, data.height, data.width, data.channels,
                      "the images of " + options.images);
    check_reference(data.height, data.channels, "the images of " + options.images);
    check_sample_count(count, info.feature_dim, options.count ? "--n" : options.images);
    share = rank_share(count, rank, communicator.size());
    read_image_share(reader, share, local_images, local_labels);
    if (data.num_classes != info.num_classes) local_labels = Tensor();
    report.context["images"] = options.images;
  } else {
    count = options.count.value_or(kDefaultSampleCount);
    if (!options.sampler.empty()) value_named(kSamplerNames, options.sampler, "--sampler");  // before the load
    const DeviceChoice& device = session.device_choice();
    const std::unique_ptr<CheckpointModel> loaded =
        load_checkpoint_model(options.checkpoint, options.ema, device.device);
    const SamplerKind sampler_kind = command_sampler(options.sampler, loaded->config, loaded->meta);
    const char* sampler_name = name_of(kSamplerNames, sampler_kind);
    const model::UNetSpec& spec = loaded->spec;
    check_image_shape(info, options.features, spec.image_size, spec.image_size, spec.image_channels,
                      "the samples of " + options.checkpoint);
    check_reference(spec.image_size, spec.image_channels, "the samples of " + options.checkpoint);
    check_sample_count(count, info.feature_dim, "--n");
    DIFFUSE_CHECK(options.guidance.value_or(0.0) == 0.0 || spec.num_classes > 0,
                  "--guidance needs a class-conditional model");
    const SamplingFlags flags{sampler_kind, options.steps, options.eta, options.guidance, options.seed};
    const SamplerOptions sampler = sampler_options(loaded->config, flags, loaded->meta.sampling_steps);
    share = rank_share(count, rank, communicator.size());
    if (rank == 0)
      log_info("sampling ", count, " images (", sampler_name, ", ", sampler.steps, " steps, NFE ",
               network_evaluations(sampler_kind, sampler.steps), ", guidance ", sampler.guidance, ") on ",
               communicator.size(), " rank(s), on ", device.description);
    ProgressLine progress("sampling", count, rank == 0);
    local_images =
        sample_share(*loaded->unet, diffusion_setup(loaded->config), sampler, LabelOrder::kInterleaved, count, share,
                     options.batch, [&](int64_t done) { progress.update_share(done, share.end - share.begin); });
    quantize_to_8bit(local_images);
    if (!options.save_samples.empty()) save_samples(options, count, communicator, share, local_images, spec);
    if (spec.num_classes > 0 && spec.num_classes == info.num_classes)
      local_labels = sample_labels(LabelOrder::kInterleaved, spec.num_classes, count, share.begin, share.end);
    report.context["checkpoint"] = options.checkpoint;
    report.context["step"] = loaded->meta.step;
    report.context["ema"] = options.ema;
    report.context["sampler"] = sampler_name;
    report.context["steps"] = sampler.steps;
    report.context["nfe"] = network_evaluations(sampler_kind, sampler.steps);
    report.context["eta"] = sampler.eta;
    report.context["guidance"] = sampler.guidance;
    report.context["seed"] = sampler.seed;
  }
  const double sampling_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const ReferenceFeatures reference =
      published ? ReferenceFeatures{}
                : reference_features(*network, options.features, options.reference, communicator, options.batch);
  Tensor predictions;
  ProgressLine progress("features", count, rank == 0);
  const Tensor local_features =
      extract_features(*network, local_images, options.batch, local_labels.defined() ? &predictions : nullptr,
                       [&](int64_t done) { progress.update_share(done, share.end - share.begin); });
  const Tensor features = gather_rows(communicator, share, local_features, count);
  double correct = 0.0;
  if (local_labels.defined())
    for (int64_t i = 0; i < local_labels.numel(); ++i) correct += predictions.i32()[i] == local_labels.i32()[i];
  correct = communicator.all_reduce_sum(correct);
  if (rank != 0) return;

  MetricOptions metrics;
  metrics.kid.subsets = options.kid_subsets;
  metrics.kid.subset_size = options.kid_subset_size;
  EvaluationReport measured =
      published ? compare_to_statistics(features, *published) : compare_features(features, reference, metrics);
  measured.context = report.context;
  if (local_labels.defined()) measured.class_accuracy = correct / static_cast<double>(count);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  measured.context["ranks"] = communicator.size();
  measured.context["sampling_seconds"] = round_to_decimals(sampling_seconds, 6);
  measured.context["seconds"] = round_to_decimals(seconds, 6);
  write_json_file(options.out, report_json(measured));
  std::printf("%s\n", summary_line(measured).c_str());
  std::fflush(stdout);
  log_info("wrote ", options.out, " (", seconds, " s)");
}

}  // namespace diffuse::eval
