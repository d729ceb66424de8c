// Shared pieces of the evaluation tests: a scratch directory per process, the
// Fashion-MNIST test split converted once, small random datasets, and
// initialised classifiers.
#pragma once

#include <cstdint>
#include <string>

#include "eval/classifier.h"

namespace diffuse::eval::testing {

// A directory under /tmp unique to this test process, created on first use and removed at exit.
const std::string& scratch_directory();

// The Fashion-MNIST test split (10,000 labelled 32x32x1 images) as a dataset file, converted on first use.
const std::string& fashion_mnist_test();

// The first `count` images of fashion_mnist_test() as their own dataset (a reference set that is quick to featurize).
const std::string& fashion_mnist_subset();

// Writes `count` random images (labels i % num_classes when num_classes > 0) to a new dataset file.
std::string write_random_dataset(const std::string& name, int64_t count, int64_t size, int64_t channels,
                                 int64_t num_classes, uint64_t seed);

// A classifier of `spec` whose parameters are finalized on the CPU and initialised from `seed`.
struct TestClassifier {
  TestClassifier(const ClassifierSpec& spec, uint64_t seed);
  model::ParameterStore store;
  Classifier classifier;
};

}  // namespace diffuse::eval::testing
