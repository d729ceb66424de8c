// The classifier's training loop, its test accuracy and the feature file it writes.
#include "eval/classifier_training.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/log.h"
#include "core/ops.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "distributed/rank_share.h"
#include "eval/classifier_network.h"
#include "eval/feature_file.h"
#include "model/layer_support.h"
#include "optim/adamw.h"
#include "optim/lr_schedule.h"

namespace diffuse::eval {

namespace {

constexpr int64_t kScoringBatch = 256;

void write_classifier(const std::string& path, const ClassifierSpec& spec, const model::ParameterStore& store,
                      double accuracy) {
  FeatureNetworkInfo info = classifier_info(spec);
  info.test_accuracy = accuracy;
  write_feature_file(path, info, parameter_weights(store));
}

}  // namespace

double classifier_accuracy(Classifier& classifier, const std::string& dataset_path, int64_t limit,
                           Communicator& communicator) {
  const DatasetReader reader(dataset_path);
  DIFFUSE_CHECK(reader.info().has_labels, "dataset ", dataset_path,
                " has no labels to score a classifier on: pass a labelled test set");
  const int64_t count = limit > 0 ? std::min(limit, reader.info().count) : reader.info().count;
  const RankShare share = rank_share(count, communicator.rank(), communicator.size());
  double correct = 0.0;
  for (int64_t first = share.begin; first < share.end; first += kScoringBatch) {
    const int64_t n = std::min(kScoringBatch, share.end - first);
    const model::NoBackward inference;
    const Tensor logits = classifier.forward(reader.read_scaled(first, n));
    const int64_t classes = logits.dim(1);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = logits.f32() + i * classes;
      correct += (std::max_element(row, row + classes) - row) == reader.labels()[first + i] ? 1.0 : 0.0;
    }
  }
  return communicator.all_reduce_sum(correct) / static_cast<double>(count);
}

ClassifierTrainingResult train_classifier(const ClassifierTrainingOptions& options, Communicator& communicator) {
  const auto start = std::chrono::steady_clock::now();
  const int rank = communicator.rank(), world = communicator.size();
  DIFFUSE_CHECK(options.epochs > 0 && options.batch_size > 0, "epochs and batch size must be positive");
  DIFFUSE_CHECK(options.batch_size % world == 0, "batch size ", options.batch_size, " is not divisible by ", world,
                " ranks: pass a --batch that is");
  ClassifierSpec spec = options.spec;
  {
    const DatasetReader train(options.train_path), test(options.test_path);
    const DatasetInfo& info = train.info();
    DIFFUSE_CHECK(info.has_labels && info.num_classes >= 2, "dataset ", options.train_path,
                  " has no labels: the classifier learns from them; convert the dataset with its labels "
                  "(`diffuse prepare idx --labels`, or `prepare folder` with one subfolder per class)");
    DIFFUSE_CHECK(info.height == info.width, "dataset ", options.train_path, " has non-square ", info.height, "x",
                  info.width, " images: convert it with `diffuse prepare folder --size`, which crops them square");
    const DatasetInfo& test_info = test.info();
    DIFFUSE_CHECK(test_info.height == info.height && test_info.width == info.width &&
                      test_info.channels == info.channels && test_info.num_classes == info.num_classes,
                  "test set ", options.test_path, " (", describe_dataset(test_info), ") does not match training set ",
                  options.train_path, " (", describe_dataset(info), "): pass the test split of the same dataset");
    spec.image_size = static_cast<int>(info.height);
    spec.image_channels = static_cast<int>(info.channels);
    spec.num_classes = static_cast<int>(info.num_classes);
  }
  model::ParameterStore store;
  Classifier classifier(spec, store);
  store.finalize(Device::CPU);
  store.initialize(options.seed);
  communicator.broadcast(store.params(), 0);
  AdamW optimizer(store.params(), store.grads(), {});

  LoaderOptions loader_options;
  loader_options.path = options.train_path;
  loader_options.global_batch = options.batch_size;
  loader_options.rank = rank;
  loader_options.world_size = world;
  loader_options.seed = options.seed;
  loader_options.horizontal_flip = options.flip;
  DataLoader loader(loader_options);
  const int64_t steps_per_epoch = loader.steps_per_epoch();
  const int64_t total = options.max_steps > 0 ? std::min(options.max_steps, options.epochs * steps_per_epoch)
                                              : options.epochs * steps_per_epoch;
  const LrSchedule lr_schedule{options.lr, options.warmup_steps, LrDecay::kCosine, total};
  if (rank == 0)
    log_info("training the classifier (", store.numel(), " parameters) for ", total, " steps of ", options.batch_size,
             " images on ", world, " rank(s) x ", omp_get_max_threads(), " threads");

  Tensor per_sample, dlogits;
  double window_loss = 0.0;
  int64_t window_steps = 0;
  for (int64_t step = 0; step < total; ++step) {
    const Batch batch = loader.next();
    store.zero_grads();
    const Tensor logits = classifier.forward(batch.images);
    model::ensure_buffer(per_sample, {logits.dim(0)}, Device::CPU);
    ops::cross_entropy_forward(logits, batch.labels, per_sample);
    for (int64_t i = 0; i < per_sample.numel(); ++i) window_loss += per_sample.f32()[i];
    model::ensure_buffer(dlogits, logits.shape(), Device::CPU);
    ops::cross_entropy_backward(logits, batch.labels, 1.0f / static_cast<float>(options.batch_size), dlogits);
    classifier.backward(dlogits);
    communicator.all_reduce_sum(store.grads());
    ops::AdamWStep adam;
    adam.lr = static_cast<float>(lr_schedule.rate(step + 1));
    adam.weight_decay = static_cast<float>(options.weight_decay);
    adam.step = step + 1;
    optimizer.step(adam);
    ++window_steps;
    if ((step + 1) % steps_per_epoch == 0 || step + 1 == total || (step + 1) % 100 == 0) {
      const double loss = communicator.all_reduce_sum(window_loss) / (window_steps * options.batch_size);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (rank == 0) {
        std::printf("classifier step %lld/%lld (epoch %.2f)  loss %.4f  lr %.2e  %.0fs\n",
                    static_cast<long long>(step + 1), static_cast<long long>(total),
                    static_cast<double>(step + 1) / steps_per_epoch, loss, adam.lr, seconds);
        std::fflush(stdout);
      }
      window_loss = 0.0;
      window_steps = 0;
    }
  }
  ClassifierTrainingResult result;
  result.steps = total;
  result.test_accuracy = classifier_accuracy(classifier, options.test_path, options.max_test, communicator);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rank == 0) write_classifier(options.out_path, spec, store, result.test_accuracy);
  communicator.barrier();
  return result;
}

}  // namespace diffuse::eval
