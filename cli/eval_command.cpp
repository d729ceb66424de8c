// `diffuse eval`: sample quality of a checkpoint (or of a set of images)
// against a reference dataset, in the features of a feature network file:
// FID, KID, precision/recall and, for class-conditional models scored by the
// classifier, class accuracy. Every rank generates and featurizes its share
// of the samples; rank 0 computes the metrics, prints one summary line and
// writes the JSON report. All inputs are checked before any sampling starts.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/dataset_writer.h"
#include "distributed/communicator.h"
#include "distributed/rank_share.h"
#include "eval/evaluation.h"
#include "eval/feature_network.h"
#include "eval/reference_features.h"
#include "eval/sample_generation.h"
#include "run/checkpoint_model.h"
#include "run/config.h"
#include "run/model_setup.h"
#include "run/run_session.h"

namespace diffuse::cli {

namespace {

struct EvalArguments {
  std::string device = "auto";
  std::string checkpoint;
  std::string images;
  std::string ema = "first";
  std::string sampler = "ddim";
  int steps = 0;  // 0 = the student's sampling_steps, else the config's
  double eta = 0.0;
  double guidance = 0.0;
  int64_t count = 10000;
  int64_t batch = 64;
  uint64_t seed = 0;
  std::string reference;
  std::string features;
  std::string out;
  std::string save_samples;
  int kid_subsets = 100;
  int64_t kid_subset_size = 1000;
};

// This rank's share of an image file: pixels in [-1, 1] and labels (undefined when the file has none).
void read_image_share(const DatasetReader& reader, const eval::RankShare& share, Tensor& images, Tensor& labels) {
  const int64_t n = share.end - share.begin;
  images = reader.read_scaled(share.begin, n);
  if (!reader.info().has_labels) return;
  labels = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) labels.i32()[i] = reader.labels()[static_cast<size_t>(share.begin + i)];
}

// Gathers every rank's samples and their labels; rank 0 writes them as a dataset file.
void save_samples(const EvalArguments& arguments, Communicator& communicator, const eval::RankShare& share,
                  const Tensor& local_images, const model::UNetSpec& spec) {
  const Tensor images = eval::gather_rows(communicator, share, local_images, arguments.count);
  const Tensor labels = eval::evaluation_labels(spec.num_classes, 0, arguments.count);
  if (communicator.rank() != 0) return;
  write_image_dataset(arguments.save_samples, images, labels, spec.num_classes,
                      "diffuse eval --ckpt " + arguments.checkpoint, Overwrite::Replace);
  log_info("saved the ", arguments.count, " samples to ", arguments.save_samples);
}

void run_eval(const EvalArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  DIFFUSE_CHECK(arguments.checkpoint.empty() != arguments.images.empty(),
                "give exactly one of --ckpt (sample a model) and --images (evaluate an image file)");
  const std::filesystem::path out_directory = std::filesystem::path(arguments.out).parent_path();
  DIFFUSE_CHECK(out_directory.empty() || std::filesystem::is_directory(out_directory), "--out ", arguments.out,
                ": directory ", out_directory.string(), " does not exist");
  DIFFUSE_CHECK(arguments.batch > 0, "--batch must be positive");
  // Only sampling computes on --device; features are extracted on the CPU.
  RuntimeConfig runtime;
  runtime.device = arguments.checkpoint.empty() ? DeviceRequest::kCpu
                                                : value_named(kDeviceRequestNames, arguments.device, "--device");
  RunSession session(runtime, "--device", SessionKind::kHostCollectives);
  Communicator& communicator = session.communicator();
  const int rank = communicator.rank();

  std::unique_ptr<eval::FeatureNetwork> network = eval::load_feature_network(arguments.features);
  const eval::FeatureNetworkInfo& info = network->info();
  const DatasetReader reference_reader(arguments.reference);
  const DatasetInfo& reference_info = reference_reader.info();
  eval::EvaluationReport report;
  report.context.emplace_back("features", eval::json_string(arguments.features));
  report.context.emplace_back("feature_network", eval::json_string(info.kind));
  report.context.emplace_back("feature_sha256", eval::json_string(info.weights_sha256));
  report.context.emplace_back("reference", eval::json_string(arguments.reference));

  Tensor local_images, local_labels;  // this rank's share of the images to evaluate, labels if known
  eval::RankShare share;
  int64_t count = 0;
  if (!arguments.images.empty()) {
    const DatasetReader reader(arguments.images);
    const DatasetInfo& data = reader.info();
    count = data.count;
    eval::check_image_shape(info, arguments.features, data.height, data.width, data.channels,
                            "the images of " + arguments.images);
    eval::check_reference_shape(arguments.reference, reference_info.height, reference_info.width,
                                reference_info.channels, data.height, data.channels,
                                "the images of " + arguments.images);
    eval::check_sample_count(count, info.feature_dim, arguments.images);
    eval::check_sample_count(reference_info.count, info.feature_dim, "reference set " + arguments.reference);
    share = eval::rank_share(count, rank, communicator.size());
    read_image_share(reader, share, local_images, local_labels);
    if (data.num_classes != info.num_classes) local_labels = Tensor();
    report.context.emplace_back("images", eval::json_string(arguments.images));
  } else {
    count = arguments.count;
    const DeviceChoice& device = session.device_choice();
    const std::unique_ptr<CheckpointModel> loaded =
        load_checkpoint_model(arguments.checkpoint, arguments.ema, device.device);
    const model::UNetSpec& spec = loaded->spec;
    eval::check_image_shape(info, arguments.features, spec.image_size, spec.image_size, spec.image_channels,
                            "the samples of " + arguments.checkpoint);
    eval::check_reference_shape(arguments.reference, reference_info.height, reference_info.width,
                                reference_info.channels, spec.image_size, spec.image_channels,
                                "the samples of " + arguments.checkpoint);
    eval::check_sample_count(count, info.feature_dim, "--n");
    eval::check_sample_count(reference_info.count, info.feature_dim, "reference set " + arguments.reference);
    DIFFUSE_CHECK(arguments.guidance == 0.0 || spec.num_classes > 0, "--guidance needs a class-conditional model");
    SamplerOptions options;
    options.steps = arguments.steps > 0
                        ? arguments.steps
                        : (loaded->meta.sampling_steps > 0 ? loaded->meta.sampling_steps : loaded->config.sample.steps);
    options.eta = arguments.sampler == "ddpm" ? 1.0 : arguments.eta;
    options.guidance = arguments.guidance;
    options.seed = arguments.seed;
    share = eval::rank_share(count, rank, communicator.size());
    if (rank == 0)
      log_info("sampling ", count, " images (", arguments.sampler, ", ", options.steps, " steps, guidance ",
               arguments.guidance, ") on ", communicator.size(), " rank(s), on ", device.description);
    local_images = eval::generate_samples(*loaded->unet, diffusion_setup(loaded->config), options, share.begin,
                                          share.end, arguments.batch);
    eval::quantize_to_8bit(local_images);
    if (!arguments.save_samples.empty()) save_samples(arguments, communicator, share, local_images, spec);
    if (spec.num_classes > 0 && spec.num_classes == info.num_classes)
      local_labels = eval::evaluation_labels(spec.num_classes, share.begin, share.end);
    report.context.emplace_back("checkpoint", eval::json_string(arguments.checkpoint));
    report.context.emplace_back("step", std::to_string(loaded->meta.step));
    report.context.emplace_back("ema", eval::json_string(arguments.ema));
    report.context.emplace_back("sampler", eval::json_string(arguments.sampler));
    report.context.emplace_back("steps", std::to_string(options.steps));
    report.context.emplace_back("eta", std::to_string(options.eta));
    report.context.emplace_back("guidance", std::to_string(arguments.guidance));
    report.context.emplace_back("seed", std::to_string(arguments.seed));
  }
  const double sampling_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const eval::ReferenceFeatures reference =
      eval::reference_features(*network, arguments.features, arguments.reference, communicator, arguments.batch);
  Tensor predictions;
  const Tensor local_features =
      eval::extract_features(*network, local_images, arguments.batch, local_labels.defined() ? &predictions : nullptr);
  const Tensor features = eval::gather_rows(communicator, share, local_features, count);
  double correct = 0.0;
  if (local_labels.defined())
    for (int64_t i = 0; i < local_labels.numel(); ++i) correct += predictions.i32()[i] == local_labels.i32()[i];
  correct = communicator.all_reduce_sum(correct);
  if (rank != 0) return;

  eval::MetricOptions metrics;
  metrics.kid.subsets = arguments.kid_subsets;
  metrics.kid.subset_size = arguments.kid_subset_size;
  eval::EvaluationReport measured = eval::compare_features(features, reference, metrics);
  measured.context = report.context;
  if (local_labels.defined()) measured.class_accuracy = correct / static_cast<double>(count);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  measured.context.emplace_back("ranks", std::to_string(communicator.size()));
  measured.context.emplace_back("sampling_seconds", std::to_string(sampling_seconds));
  measured.context.emplace_back("seconds", std::to_string(seconds));
  eval::write_text_file(arguments.out, eval::report_json(measured));
  std::printf("%s\n", eval::summary_line(measured).c_str());
  std::fflush(stdout);
  log_info("wrote ", arguments.out, " (", seconds, " s)");
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto arguments = std::make_shared<EvalArguments>();
  CLI::App* command = app.add_subcommand("eval", "FID, KID and precision/recall of samples against a reference set");
  command->add_option("--ckpt", arguments->checkpoint, "Checkpoint to sample (.h5)")->check(CLI::ExistingFile);
  command
      ->add_option("--images", arguments->images,
                   "Images to evaluate instead (dataset .h5, e.g. from "
                   "`diffuse sample --out x.h5`)")
      ->check(CLI::ExistingFile);
  command->add_option("--ref", arguments->reference, "Reference dataset (.h5); statistics are cached beside it")
      ->required()
      ->check(CLI::ExistingFile);
  command
      ->add_option("--features", arguments->features,
                   "Feature network file (train-classifier or converted "
                   "Inception)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", arguments->out, "JSON report to write")->required();
  command->add_option("--n", arguments->count, "Samples to generate")->capture_default_str();
  command->add_option("--ema", arguments->ema,
                      "EMA rate whose weights to use, 'none' for the raw weights "
                      "(default: the checkpoint's first EMA rate)");
  command->add_option("--sampler", arguments->sampler, "ddpm (ancestral) or ddim")
      ->check(CLI::IsMember({"ddpm", "ddim"}));
  command->add_option("--steps", arguments->steps, "Sampling steps (default: a student's own, else the config's)");
  command->add_option("--eta", arguments->eta, "DDIM eta (0 = deterministic)");
  command->add_option("--guidance", arguments->guidance, "Classifier-free guidance weight w");
  command->add_option("--batch", arguments->batch, "Images per forward pass")->capture_default_str();
  command->add_option("--seed", arguments->seed, "Sampling seed")->capture_default_str();
  command->add_option("--device", arguments->device, "Where to sample: cpu, cuda, or auto (the GPU when there is one)")
      ->capture_default_str();
  command->add_option("--save-samples", arguments->save_samples,
                      "Also write the samples (8-bit, as evaluated) to this dataset file, for `eval --images`");
  command->add_option("--kid-subsets", arguments->kid_subsets, "KID subsets")->capture_default_str();
  command->add_option("--kid-subset-size", arguments->kid_subset_size, "KID subset size")->capture_default_str();
  command->callback([arguments] { run_eval(*arguments); });
}

}  // namespace diffuse::cli
