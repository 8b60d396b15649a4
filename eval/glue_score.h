// Scoring GLUE predictions against a task's gold examples with the task's metrics.
#pragma once

#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

#include "data/glue_reader.h"
#include "eval/glue_tasks.h"

namespace masklm {

// One prediction per example: a label index (classification) or a score (regression).
struct GluePredictions {
  std::vector<int32_t> labels;
  std::vector<double> scores;
  size_t size() const { return labels.empty() ? scores.size() : labels.size(); }
};

// A predictions file: one prediction per line, in the order of the gold file's examples;
// a label name or a label index for classification (for tasks labelled "0"/"1" the two
// agree), a number for regression. Blank lines are ignored. Errors name file:line.
GluePredictions read_glue_predictions(const std::filesystem::path& path, const GlueTask& task);

// The task's metrics in its order (headline first); fractions, not percentages.
std::vector<std::pair<GlueMetric, double>> score_glue(const GlueTask& task,
                                                      const std::vector<GlueExample>& gold,
                                                      const GluePredictions& predicted);

}  // namespace masklm
