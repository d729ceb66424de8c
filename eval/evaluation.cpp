// The metrics of one evaluation, and its JSON report.
#include "eval/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "eval/frechet_distance.h"
#include "eval/precision_recall.h"

namespace diffuse::eval {

namespace {

Json metric(double value) { return round_to_significant_digits(value, 10); }

Tensor spread_rows(const Tensor& features, int64_t count) {
  const int64_t total = features.dim(0), d = features.dim(1);
  Tensor rows = Tensor::empty({count, d});
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(rows.f32() + i * d, features.f32() + (i * total / count) * d, static_cast<size_t>(d) * sizeof(float));
  return rows;
}

}  // namespace

void check_sample_count(int64_t count, int64_t feature_dim, const std::string& what) {
  DIFFUSE_CHECK(count > feature_dim, what, ": ", count, " images are too few for ", feature_dim,
                "-d features: FID needs more images than feature dimensions for a full-rank covariance (and "
                "several times more for a stable estimate)");
}

void check_reference_shape(const std::string& reference_path, int64_t height, int64_t width, int64_t channels,
                           int64_t size, int64_t expected_channels, const std::string& what) {
  DIFFUSE_CHECK(height == size && width == size && channels == expected_channels, "reference set ", reference_path,
                " has ", height, "x", width, "x", channels, " images but ", what, " are ", size, "x", size, "x",
                expected_channels,
                ": pass a --ref dataset of the same image shape (e.g. the test split of the "
                "training data)");
}

EvaluationReport compare_features(const Tensor& generated, const ReferenceFeatures& reference,
                                  const MetricOptions& options) {
  const int64_t n = generated.dim(0), total = reference.features.dim(0);
  check_sample_count(n, generated.dim(1), "generated set");
  check_sample_count(total, reference.features.dim(1), "reference set");
  EvaluationReport report;
  report.n = n;
  report.reference_count = total;
  report.fid = frechet_distance(gaussian_statistics(generated), reference.statistics);
  report.kid = kernel_distance(generated, reference.features, options.kid);
  const int64_t m = std::min(n, total);
  report.precision_recall_count = m;
  const PrecisionRecall pr =
      precision_recall(spread_rows(reference.features, m), generated.slice(0, m), options.neighbours);
  report.precision = pr.precision;
  report.recall = pr.recall;
  return report;
}

EvaluationReport compare_to_statistics(const Tensor& generated, const GaussianStatistics& reference) {
  check_sample_count(generated.dim(0), generated.dim(1), "generated set");
  EvaluationReport report;
  report.n = generated.dim(0);
  report.has_reference_features = false;
  report.fid = frechet_distance(gaussian_statistics(generated), reference);
  return report;
}

Json report_json(const EvaluationReport& report) {
  Json json = {{"n", report.n}, {"fid", metric(report.fid)}};
  if (report.has_reference_features) {
    json["kid_mean"] = metric(report.kid.mean);
    json["kid_std"] = metric(report.kid.std);
    json["kid_subsets"] = report.kid.subsets;
    json["kid_subset_size"] = report.kid.subset_size;
    json["precision"] = metric(report.precision);
    json["recall"] = metric(report.recall);
    json["precision_recall_n"] = report.precision_recall_count;
    json["reference_n"] = report.reference_count;
  }
  if (report.class_accuracy >= 0) json["class_accuracy"] = metric(report.class_accuracy);
  for (const auto& [key, value] : report.context.items()) json[key] = value;
  return json;
}

std::string summary_line(const EvaluationReport& report) {
  char text[256];
  if (report.has_reference_features)
    std::snprintf(text, sizeof(text), "fid %.4f  kid %.5f +- %.5f  precision %.4f  recall %.4f", report.fid,
                  report.kid.mean, report.kid.std, report.precision, report.recall);
  else
    std::snprintf(text, sizeof(text), "fid %.4f", report.fid);
  std::string line = text;
  if (report.class_accuracy >= 0) {
    std::snprintf(text, sizeof(text), "  class accuracy %.4f", report.class_accuracy);
    line += text;
  }
  return line + "  (n " + std::to_string(report.n) + ")";
}

}  // namespace diffuse::eval
