// Fine-tuning grids, the protocol of RoBERTa and of Wettig et al.: every combination of
// settings (e.g. lr x epochs x seed) fine-tuned from one checkpoint, the runs of each
// configuration (all axes but `seed`) summarized over their seeds, the configuration with the
// best median headline metric selected. Layout of OUT (docs/evaluation.md):
//
//   OUT/grid/<point>/finetune.json    the point's dev scores (written last: a point whose
//                                     file holds the task is finished and skipped on a rerun)
//   OUT/grid/<point>/settings.json    the point's resolved settings; a rerun with other
//                                     settings for the same point is an error
//   OUT/grid_summary.json             per configuration: mean, median, std, min, max of
//                                     every metric over the seeds; the best configuration
//   OUT/finetune.json                 the task's entry: the best configuration's median of
//                                     each metric (the number `masklm report` shows)
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eval/summary_stats.h"
#include "train/config_grid.h"
#include "train/finetune_target.h"

namespace masklm {

struct FineTuneGrid {
  nlohmann::json settings = nlohmann::json::object();  // every point's, before its own (--set)
  std::vector<GridAxis> axes;                          // --grid; the `seed` axis is summarized over
};

struct GridConfiguration {
  std::string name;                 // its non-seed labels ("lr-2e-05_epochs-3"), or "all"
  nlohmann::json settings;          // its non-seed axes' settings: {"lr": 2e-05, "epochs": 3}
  std::vector<std::string> points;  // its grid points, one per seed
  std::map<std::string, SummaryStats> metrics;  // each metric over the points
};

struct FineTuneGridSummary {
  std::string task, metric;
  std::vector<GridConfiguration> configurations;  // in grid order
  size_t best = 0;                                // highest median of `metric`; the first of equals
};

// A finished fine-tuning run's scores: DIR/finetune.json's entry for TARGET's task, nullopt
// when it has none. A finished run whose DIR/settings.json (none: a run from before settings
// were recorded), read by TARGET's reader (so keys added since take their defaults), differs
// from SETTINGS is an error naming both, never reused. Grid points and a sweep's single-run
// fine-tuning both resume through it.
std::optional<std::map<std::string, double>> finished_finetune_run(const std::filesystem::path& dir,
                                                                   const FineTuneTarget& target,
                                                                   const nlohmann::json& settings);

// Writes SETTINGS (resolved, FineTuneTarget::resolve) to DIR/settings.json, then runs TARGET
// with them into DIR.
void run_recorded_finetune(const FineTuneTarget& target, const nlohmann::json& settings,
                           const std::filesystem::path& dir);

// Each point's resolved settings (FineTuneTarget::resolve): the grid's settings, then the
// point's; errors name the point and the key.
std::vector<nlohmann::json> grid_point_settings(const FineTuneGrid& grid,
                                                const std::vector<GridPoint>& points,
                                                const FineTuneTarget& target);

// Summarizes finished points: scores[i] holds points[i]'s metrics. A configuration with no
// finite headline value is never the best unless all are.
FineTuneGridSummary summarize_finetune_grid(
    const std::vector<GridAxis>& axes, const std::vector<GridPoint>& points,
    const std::vector<std::map<std::string, double>>& scores, const std::string& task,
    const std::string& metric);

// Runs the points not yet finished in OUT/grid/, then writes the summary and OUT/finetune.json.
// Progress lines go to `terminal` (nullptr: none). Returns nullopt, with nothing summarized,
// when a stop was requested (train/stop_signal.h) before the grid finished.
std::optional<FineTuneGridSummary> run_finetune_grid(const FineTuneGrid& grid,
                                                     const FineTuneTarget& target,
                                                     const std::filesystem::path& out,
                                                     FILE* terminal);

// The table printed after a grid: one row per configuration (n, mean, median, std of the
// headline metric), the best marked.
std::string format_grid_summary(const FineTuneGridSummary& summary);

}  // namespace masklm
