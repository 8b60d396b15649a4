#include "train/finetune_scores.h"

#include <nlohmann/json.hpp>

#include <limits>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace masklm {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_scores_file(const fs::path& file) {
  if (!fs::exists(file)) return nlohmann::json::object();
  nlohmann::json root = read_json_file(file);
  MASKLM_CHECK(root.is_object(),
               "{}: not a JSON object of task scores; move it away or pick another --out",
               file.string());
  return root;
}

}  // namespace

void write_task_scores(const fs::path& file, const std::string& task, const MetricScores& scores) {
  nlohmann::json root = read_scores_file(file);
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [metric, value] : scores) metrics[metric] = value;
  root[task] = metrics;
  write_file_atomic(file, root.dump(2) + "\n");
}

TaskScores read_scores(const fs::path& file) {
  const nlohmann::json root = read_scores_file(file);
  TaskScores scores;
  for (const auto& [task, metrics] : root.items()) {
    MASKLM_CHECK(metrics.is_object(), "{}: task '{}' must map metric names to numbers",
                 file.string(), task);
    for (const auto& [metric, value] : metrics.items()) {
      MASKLM_CHECK(value.is_number() || value.is_null(),
                   "{}: {}.{} must be a number (or null: NaN), got {}", file.string(), task, metric,
                   value.dump());
      scores[task][metric] =
          value.is_null() ? std::numeric_limits<double>::quiet_NaN() : value.get<double>();
    }
  }
  return scores;
}

std::optional<std::map<std::string, double>> read_task_scores(const fs::path& file,
                                                              const std::string& task) {
  TaskScores scores = read_scores(file);
  const auto entry = scores.find(task);
  if (entry == scores.end()) return std::nullopt;
  return std::move(entry->second);
}

}  // namespace masklm
