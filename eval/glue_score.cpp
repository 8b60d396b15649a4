#include "eval/glue_score.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>

#include "eval/metrics.h"
#include "runtime/error.h"

namespace masklm {

namespace {

std::string_view trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

template <typename T> bool parse_number(std::string_view text, T& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

int32_t parse_label(std::string_view text, const GlueTask& task) {
  for (size_t k = 0; k < task.label_names.size(); ++k)
    if (text == task.label_names[k]) return static_cast<int32_t>(k);
  int32_t index = -1;
  if (parse_number(text, index) && index >= 0 && index < task.num_labels()) return index;
  return -1;
}

}  // namespace

GluePredictions read_glue_predictions(const std::filesystem::path& path, const GlueTask& task) {
  std::ifstream in(path, std::ios::binary);
  MASKLM_CHECK(in.good(), "cannot open predictions file '{}'", path.string());
  GluePredictions predictions;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    if (task.is_regression()) {
      double score = 0;
      MASKLM_CHECK(parse_number(text, score) && std::isfinite(score),
                   "{}:{}: '{}' is not a number ({} is a regression task)", path.string(),
                   line_number, text, task.display_name);
      predictions.scores.push_back(score);
    } else {
      const int32_t label = parse_label(text, task);
      MASKLM_CHECK(label >= 0, "{}:{}: '{}' is not a {} label (one of {}, or an index 0 to {})",
                   path.string(), line_number, text, task.display_name,
                   fmt::join(task.label_names, ", "), task.num_labels() - 1);
      predictions.labels.push_back(label);
    }
  }
  return predictions;
}

std::vector<std::pair<GlueMetric, double>> score_glue(const GlueTask& task,
                                                      const std::vector<GlueExample>& gold,
                                                      const GluePredictions& predicted) {
  MASKLM_CHECK(predicted.size() == gold.size(),
               "{} predictions for {} gold {} examples: one prediction per example, in order",
               predicted.size(), gold.size(), task.display_name);
  std::vector<int32_t> gold_labels;
  std::vector<double> gold_scores;
  for (const GlueExample& e : gold) {
    if (task.is_regression())
      gold_scores.push_back(e.score);
    else
      gold_labels.push_back(e.label);
  }
  std::vector<std::pair<GlueMetric, double>> scores;
  for (GlueMetric metric : task.metrics) {
    double value = 0;
    switch (metric) {
      case GlueMetric::ACCURACY: value = accuracy(predicted.labels, gold_labels); break;
      case GlueMetric::F1: value = binary_f1(predicted.labels, gold_labels); break;
      case GlueMetric::MATTHEWS_CORR:
        value = matthews_corrcoef(predicted.labels, gold_labels);
        break;
      case GlueMetric::PEARSON: value = pearson(predicted.scores, gold_scores); break;
      case GlueMetric::SPEARMAN: value = spearman(predicted.scores, gold_scores); break;
    }
    scores.emplace_back(metric, value);
  }
  return scores;
}

}  // namespace masklm
