// Training the evaluation classifier on a labelled dataset and writing it as
// a feature network file (feature_file.h). The data order, flips and
// gradients follow the diffusion trainer's rules (world-size-invariant
// batches, gradients summed over ranks), and only rank 0 writes.
#pragma once

#include <cstdint>
#include <string>

#include "distributed/communicator.h"
#include "eval/classifier.h"

namespace diffuse::eval {

struct ClassifierTrainingOptions {
  std::string train_path;  // labelled dataset (.h5)
  std::string test_path;   // labelled dataset for the reported accuracy
  std::string out_path;    // feature network file to write
  int epochs = 6;
  int64_t max_steps = 0;  // stop after this many steps (0 = all epochs): smoke tests
  int64_t max_test = 0;   // evaluate on the first this many test images (0 = all)
  int batch_size = 128;   // global
  double lr = 3e-3;       // peak AdamW rate: linear warmup, then cosine decay to zero
  int64_t warmup_steps = 100;
  double weight_decay = 1e-2;
  bool flip = true;  // random horizontal flips
  uint64_t seed = 0;
  ClassifierSpec spec;  // image_size, image_channels and num_classes are taken from the data
};

struct ClassifierTrainingResult {
  double test_accuracy = 0.0;
  double seconds = 0.0;
  int64_t steps = 0;
};

ClassifierTrainingResult train_classifier(const ClassifierTrainingOptions& options, Communicator& communicator);

// Fraction of the first `limit` (0 = all) images of a labelled dataset that
// the classifier gets right; each rank scores a contiguous share.
double classifier_accuracy(Classifier& classifier, const std::string& dataset_path, int64_t limit,
                           Communicator& communicator);

}  // namespace diffuse::eval
