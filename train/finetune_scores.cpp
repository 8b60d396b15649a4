#include "train/finetune_scores.h"

#include <nlohmann/json.hpp>

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

std::optional<std::map<std::string, double>> read_task_scores(const fs::path& file,
                                                              const std::string& task) {
  const nlohmann::json root = read_scores_file(file);
  if (!root.contains(task)) return std::nullopt;
  std::map<std::string, double> scores;
  for (const auto& [metric, value] : root[task].items()) {
    MASKLM_CHECK(value.is_number(), "{}: {}.{} must be a number, got {}", file.string(), task,
                 metric, value.dump());
    scores[metric] = value.get<double>();
  }
  return scores;
}

}  // namespace masklm
