// OUT/finetune.json, the downstream scores of a run: {"<task>": {"<metric>": value, ...}, ...},
// the layout eval/sweep_results.h reads. Fine-tuning runs, grids and sweeps each set one
// task's entry and keep the others. A NaN score (the Pearson correlation of a constant
// prediction) is written as JSON's null and read back as NaN, which summaries leave out
// (eval/summary_stats.h) and reports show as "–".
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace masklm {

using MetricScores = std::vector<std::pair<std::string, double>>;  // metric name, value
using TaskScores = std::map<std::string, std::map<std::string, double>>;  // task, metric, value

// Sets `task`'s entry (atomically), keeping other tasks' entries. Errors when the file
// exists but is not a JSON object.
void write_task_scores(const std::filesystem::path& file, const std::string& task,
                       const MetricScores& scores);
// Every task's entry; none when the file is missing. Errors name the file and the score.
TaskScores read_scores(const std::filesystem::path& file);
// `task`'s entry; nullopt when the file or the entry is missing.
std::optional<std::map<std::string, double>> read_task_scores(const std::filesystem::path& file,
                                                              const std::string& task);

}  // namespace masklm
