// The evaluation classifier: whole-model gradients by finite differences, and
// a smoke test of train_classifier on a 300-image Fashion-MNIST subset (a few
// epochs over it must lift accuracy well above chance and write a loadable file).
#include <gtest/gtest.h>

#include "core/ops.h"
#include "distributed/communicator.h"
#include "eval/classifier.h"
#include "eval/classifier_training.h"
#include "eval/feature_network.h"
#include "tests/eval/eval_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse::eval {
namespace {

TEST(Classifier, ParameterGradientsMatchFiniteDifferences) {
  // 8x8x1 images, 3 classes, widths 4 and 8, 6 features, 2 groups.
  testing::TestClassifier tiny(ClassifierSpec{8, 1, 3, {4, 8}, 6, 2}, 3);
  Classifier& classifier = tiny.classifier;
  model::ParameterStore& store = tiny.store;
  const Tensor images = diffuse::testing::random_tensor({2, 8, 8, 1}, 4);
  Tensor labels = Tensor::empty({2}, DType::I32);
  labels.i32()[0] = 0;
  labels.i32()[1] = 2;
  Tensor loss = Tensor::empty({2});
  const auto total_loss = [&] {
    ops::cross_entropy_forward(classifier.forward(images), labels, loss);
    return static_cast<double>(loss.f32()[0]) + loss.f32()[1];
  };
  store.zero_grads();
  const Tensor logits = classifier.forward(images);
  Tensor dlogits = Tensor::empty(logits.shape());
  ops::cross_entropy_backward(logits, labels, 1.0f, dlogits);
  classifier.backward(dlogits);
  // A small step: ReLU kinks within a step of a pre-activation would bend the finite difference.
  diffuse::testing::GradCheck options;
  options.step = 1e-3;
  options.rtol = 3e-2;
  options.atol = 1e-3;
  options.max_elements = 12;
  for (const char* name :
       {"stem.conv.weight", "stage.1.down.norm.gamma", "stage.1.block.conv.bias", "embed.weight", "head.bias"})
    diffuse::testing::expect_gradient(name, store.value(name), store.grad(name), total_loss, options);
}

TEST(ClassifierTraining, SmokeTestOnASubset) {
  ClassifierTrainingOptions options;
  // 300 images seen many times: the smoke test asks for learning, not for generalisation.
  options.train_path = testing::fashion_mnist_subset();
  options.test_path = testing::fashion_mnist_subset();
  options.out_path = testing::scratch_directory() + "/smoke-classifier.h5";
  options.epochs = 8;
  options.batch_size = 32;
  options.lr = 2e-3;
  options.warmup_steps = 5;
  options.spec.channels = {8, 16, 32};
  options.spec.feature_dim = 16;
  SingleProcessCommunicator communicator;
  const ClassifierTrainingResult result = train_classifier(options, communicator);
  EXPECT_EQ(result.steps, 72);
  EXPECT_GT(result.test_accuracy, 0.5) << "10 classes: chance is 0.1";
  std::unique_ptr<FeatureNetwork> network = load_feature_network(options.out_path);
  EXPECT_EQ(network->info().image_size, 32);
  EXPECT_EQ(network->info().num_classes, 10);
  EXPECT_EQ(network->info().feature_dim, 16);
  EXPECT_DOUBLE_EQ(network->info().test_accuracy, result.test_accuracy);
}

TEST(ClassifierTraining, UnlabelledDataIsRejected) {
  ClassifierTrainingOptions options;
  options.train_path = testing::write_random_dataset("unlabelled.h5", 16, 8, 1, 0, 4);
  options.test_path = options.train_path;
  options.out_path = testing::scratch_directory() + "/never.h5";
  SingleProcessCommunicator communicator;
  const std::string message = diffuse::testing::error_message([&] { train_classifier(options, communicator); });
  EXPECT_NE(message.find("has no labels"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse::eval
