// Comparing generated images' features with a reference set's: FID, KID,
// precision/recall and (for class-conditional samples scored by the
// classifier) class accuracy, gathered into a report that is written as JSON
// and summarised in one line.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "eval/kernel_distance.h"
#include "eval/reference_features.h"
#include "io/json.h"

namespace diffuse::eval {

struct MetricOptions {
  KernelDistanceOptions kid;
  int neighbours = 3;  // k of the precision/recall balls
};

struct EvaluationReport {
  int64_t n = 0;                       // generated images
  int64_t reference_count = 0;         // reference images (FID, KID)
  int64_t precision_recall_count = 0;  // images per side in precision/recall
  double fid = 0.0;
  KernelDistance kid;
  double precision = 0.0;
  double recall = 0.0;
  double class_accuracy = -1.0;  // < 0: not measured
  // False when the reference is published statistics (`eval --ref-stats`): FID alone, without the reference
  // count, KID and precision/recall, which need the reference features.
  bool has_reference_features = true;
  // Context for the JSON, after the metrics, in order: {"checkpoint": "runs/x/ckpt.h5", "steps": 50, ...}.
  Json context = Json::object();
};

// Throws unless `count` samples give a full-rank d x d covariance: FID needs count > d.
void check_sample_count(int64_t count, int64_t feature_dim, const std::string& what);

// Throws unless the reference set's images are size x size x channels like `what` (e.g. "the samples of X").
void check_reference_shape(const std::string& reference_path, int64_t height, int64_t width, int64_t channels,
                           int64_t size, int64_t expected_channels, const std::string& what);

// generated [n,d] against the reference. Precision/recall use min(n, N) points a side: the first
// ones generated and reference rows spread evenly over the set (floor(i * N / m)).
EvaluationReport compare_features(const Tensor& generated, const ReferenceFeatures& reference,
                                  const MetricOptions& options);

// FID of generated [n,d] against published statistics (has_reference_features false).
EvaluationReport compare_to_statistics(const Tensor& generated, const GaussianStatistics& reference);

// The metrics (10 significant digits; null when not finite), then the context.
Json report_json(const EvaluationReport& report);
// "fid 12.34  kid 0.0123 +- 0.0010  precision 0.71  recall 0.52  class accuracy 0.93  (n 2000)"; "fid 12.34  (n 2000)"
// without reference features.
std::string summary_line(const EvaluationReport& report);

}  // namespace diffuse::eval
