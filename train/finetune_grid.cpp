#include "train/finetune_grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "runtime/error.h"
#include "runtime/file_io.h"
#include "train/finetune_scores.h"
#include "train/run_log.h"
#include "train/stop_signal.h"

namespace masklm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kSeedAxis = "seed";

// With no finite value (n == 0) the statistics are null, not SummaryStats' zeros.
json stats_to_json(const SummaryStats& s) {
  const auto value = [&](double v) { return s.n > 0 ? json(v) : json(nullptr); };
  return {{"n", s.n},
          {"mean", value(s.mean)},
          {"median", value(s.median)},
          {"std", value(s.std)},
          {"min", value(s.min)},
          {"max", value(s.max)}};
}

json summary_to_json(const FineTuneGridSummary& summary) {
  json configurations = json::array();
  for (const GridConfiguration& config : summary.configurations) {
    json metrics = json::object();
    for (const auto& [metric, stats] : config.metrics) metrics[metric] = stats_to_json(stats);
    configurations.push_back({{"name", config.name},
                              {"settings", config.settings},
                              {"points", config.points},
                              {"metrics", metrics}});
  }
  return {{"task", summary.task},
          {"metric", summary.metric},
          {"selected_by", "median"},
          {"configurations", configurations},
          {"best", summary.configurations[summary.best].name}};
}

}  // namespace

std::optional<std::map<std::string, double>> finished_finetune_run(const fs::path& dir,
                                                                   const FineTuneTarget& target,
                                                                   const json& settings) {
  std::optional<std::map<std::string, double>> scores =
      read_task_scores(dir / "finetune.json", target.task);
  if (!scores) return std::nullopt;
  const fs::path file = dir / "settings.json";
  json saved = fs::exists(file) ? read_json_file(file) : json();
  if (!saved.is_null()) {
    try {
      saved = target.resolve(saved);
    } catch (const Error& e) {
      MASKLM_FAIL(
          "{} was fine-tuned with settings that no longer read ({}): remove it or "
          "choose another --out",
          dir.string(), e.what());
    }
  }
  MASKLM_CHECK(saved == settings,
               "{} was fine-tuned with other settings ({}) than asked for now ({}): remove it "
               "or choose another --out",
               dir.string(), saved.is_null() ? "none recorded" : saved.dump(), settings.dump());
  return scores;
}

void run_recorded_finetune(const FineTuneTarget& target, const json& settings,
                           const fs::path& dir) {
  fs::create_directories(dir);
  write_file_atomic(dir / "settings.json", settings.dump(2) + "\n");
  target.run(settings, dir);
}

std::vector<json> grid_point_settings(const FineTuneGrid& grid,
                                      const std::vector<GridPoint>& points,
                                      const FineTuneTarget& target) {
  std::vector<json> settings;
  for (const GridPoint& point : points) {
    json tree = grid.settings;
    apply_grid_point(tree, grid.axes, point);
    try {
      settings.push_back(target.resolve(tree));
    } catch (const Error& e) {
      MASKLM_FAIL("grid point '{}': {}", point.name, e.what());
    }
  }
  return settings;
}

FineTuneGridSummary summarize_finetune_grid(
    const std::vector<GridAxis>& axes, const std::vector<GridPoint>& points,
    const std::vector<std::map<std::string, double>>& scores, const std::string& task,
    const std::string& metric) {
  MASKLM_CHECK(!points.empty() && points.size() == scores.size(),
               "a grid summary needs the scores of every point");
  FineTuneGridSummary summary{task, metric, {}, 0};
  std::vector<std::vector<size_t>> keys;  // non-seed choices of each configuration
  std::vector<std::map<std::string, std::vector<double>>> values;
  for (size_t i = 0; i < points.size(); ++i) {
    std::vector<size_t> key;
    std::string name;
    json settings = json::object();
    for (size_t a = 0; a < axes.size(); ++a) {
      if (axes[a].name == kSeedAxis) continue;
      const GridChoice& choice = axes[a].choices[points[i].choices[a]];
      key.push_back(points[i].choices[a]);
      name += (name.empty() ? "" : "_") + choice.label;
      for (const auto& [k, v] : choice.settings) settings[k] = v;
    }
    size_t c = static_cast<size_t>(std::find(keys.begin(), keys.end(), key) - keys.begin());
    if (c == keys.size()) {
      keys.push_back(key);
      values.emplace_back();
      summary.configurations.push_back({name.empty() ? "all" : name, settings, {}, {}});
    }
    summary.configurations[c].points.push_back(points[i].name);
    for (const auto& [m, v] : scores[i]) values[c][m].push_back(v);
  }
  for (size_t c = 0; c < summary.configurations.size(); ++c) {
    GridConfiguration& config = summary.configurations[c];
    for (const auto& [m, v] : values[c]) config.metrics[m] = summarize(v);
    const auto headline = config.metrics.find(metric);
    MASKLM_CHECK(headline != config.metrics.end(), "grid point {} has no '{}' score for {}",
                 config.points.front(), metric, task);
    const SummaryStats& best = summary.configurations[summary.best].metrics.at(metric);
    if (headline->second.n > 0 && (best.n == 0 || headline->second.median > best.median))
      summary.best = c;
  }
  return summary;
}

std::optional<FineTuneGridSummary> run_finetune_grid(const FineTuneGrid& grid,
                                                     const FineTuneTarget& target,
                                                     const fs::path& out, FILE* terminal) {
  const std::vector<GridPoint> points = expand_grid(grid.axes);
  // Every point's settings are checked before the first one runs.
  const std::vector<json> settings = grid_point_settings(grid, points, target);
  std::vector<std::map<std::string, double>> scores;
  for (size_t i = 0; i < points.size(); ++i) {
    const fs::path dir = out / "grid" / points[i].name;
    const std::string progress =
        fmt::format("[grid {}/{}] {}", i + 1, points.size(), points[i].name);
    if (auto done = finished_finetune_run(dir, target, settings[i])) {
      if (terminal) fmt::print(terminal, "{}: finished earlier, skipped\n", progress);
      scores.push_back(std::move(*done));
      continue;
    }
    if (stop_requested()) return std::nullopt;
    const auto start = std::chrono::steady_clock::now();
    run_recorded_finetune(target, settings[i], dir);
    std::optional<std::map<std::string, double>> result =
        read_task_scores(dir / "finetune.json", target.task);
    MASKLM_CHECK(result && result->count(target.metric), "{}: the run wrote no '{}' score for {}",
                 (dir / "finetune.json").string(), target.metric, target.task);
    if (terminal)
      fmt::print(
          terminal, "{}: {} {:.4f} ({})\n", progress, target.metric, result->at(target.metric),
          format_duration(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
    scores.push_back(std::move(*result));
  }

  FineTuneGridSummary summary =
      summarize_finetune_grid(grid.axes, points, scores, target.task, target.metric);
  write_file_atomic(out / "grid_summary.json", summary_to_json(summary).dump(2) + "\n");
  MetricScores best;
  for (const auto& [metric, stats] : summary.configurations[summary.best].metrics)
    if (stats.n > 0) best.emplace_back(metric, stats.median);
  write_task_scores(out / "finetune.json", target.task, best);
  return summary;
}

std::string format_grid_summary(const FineTuneGridSummary& summary) {
  size_t width = std::string_view("configuration").size();
  for (const GridConfiguration& c : summary.configurations) width = std::max(width, c.name.size());
  std::string text = fmt::format("{}: {} over seeds per configuration; best by median\n",
                                 summary.task, summary.metric);
  text += fmt::format("{:<{}}  {:>3}  {:>8}  {:>8}  {:>8}\n", "configuration", width, "n", "mean",
                      "median", "std");
  for (size_t c = 0; c < summary.configurations.size(); ++c) {
    const GridConfiguration& config = summary.configurations[c];
    const SummaryStats& s = config.metrics.at(summary.metric);
    // No seed with a finite score: no statistics, and nothing to be best with.
    const auto value = [&](double v) { return s.n > 0 ? fmt::format("{:.4f}", v) : "–"; };
    text += fmt::format("{:<{}}  {:>3}  {:>8}  {:>8}  {:>8}{}\n", config.name, width, s.n,
                        value(s.mean), value(s.median), value(s.std),
                        c == summary.best && s.n > 0 ? "  <- best" : "");
  }
  return text;
}

}  // namespace masklm
