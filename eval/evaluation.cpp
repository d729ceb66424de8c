// The metrics of one evaluation, and its JSON report.
#include "eval/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "io/hdf5.h"

#include "eval/frechet_distance.h"
#include "eval/precision_recall.h"

namespace diffuse::eval {

namespace {

std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[40];
  std::snprintf(text, sizeof(text), "%.10g", value);
  return text;
}

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
                expected_channels, ": pass a --ref dataset of the same image shape (e.g. the test split of the "
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

std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", c);
      quoted += escape;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string report_json(const EvaluationReport& report) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"n", std::to_string(report.n)},
      {"fid", number(report.fid)},
      {"kid_mean", number(report.kid.mean)},
      {"kid_std", number(report.kid.std)},
      {"kid_subsets", std::to_string(report.kid.subsets)},
      {"kid_subset_size", std::to_string(report.kid.subset_size)},
      {"precision", number(report.precision)},
      {"recall", number(report.recall)},
      {"precision_recall_n", std::to_string(report.precision_recall_count)},
      {"reference_n", std::to_string(report.reference_count)}};
  if (report.class_accuracy >= 0) fields.emplace_back("class_accuracy", number(report.class_accuracy));
  fields.insert(fields.end(), report.context.begin(), report.context.end());
  std::string json = "{\n";
  for (size_t i = 0; i < fields.size(); ++i)
    json += "  " + json_string(fields[i].first) + ": " + fields[i].second + (i + 1 < fields.size() ? ",\n" : "\n");
  return json + "}\n";
}

std::string summary_line(const EvaluationReport& report) {
  char text[256];
  std::snprintf(text, sizeof(text), "fid %.4f  kid %.5f +- %.5f  precision %.4f  recall %.4f", report.fid,
                report.kid.mean, report.kid.std, report.precision, report.recall);
  std::string line = text;
  if (report.class_accuracy >= 0) {
    std::snprintf(text, sizeof(text), "  class accuracy %.4f", report.class_accuracy);
    line += text;
  }
  return line + "  (n " + std::to_string(report.n) + ")";
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary);
    DIFFUSE_CHECK(file.good(), "cannot write ", temporary);
    file << text;
    file.flush();
    DIFFUSE_CHECK(file.good(), "writing ", temporary, " failed");
  }
  publish_file(temporary, path);
}

}  // namespace diffuse::eval
