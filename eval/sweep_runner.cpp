#include "eval/sweep_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "kernels/device_context.h"
#include "runtime/file_io.h"
#include "runtime/log.h"
#include "train/checkpoint.h"
#include "train/config_file.h"
#include "train/finetune_grid.h"
#include "train/finetune_scores.h"
#include "train/pretrain.h"
#include "train/run_config.h"
#include "train/run_log.h"
#include "train/stop_signal.h"

namespace masklm {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Pretrains the cell up to its last step: fresh, or from its newest checkpoint.
TrainOutcome pretrain_cell(const SweepPlan& plan, const SweepCellPlan& cell, const fs::path& dir,
                           Device device, FILE* terminal) {
  if (fs::exists(checkpoint_path(dir / "checkpoints", cell.steps))) return TrainOutcome::FINISHED;
  PretrainRequest request;
  request.config_file = plan.base;
  request.overrides = cell.overrides;
  request.run_dir = dir;
  request.resume = latest_checkpoint(dir / "checkpoints").has_value();
  request.device = device;
  request.terminal = terminal;
  return pretrain(request);
}

// Fine-tunes the final checkpoint on one task into DIR/finetune/<task>/ and copies the task's
// scores into DIR/finetune.json. False when stopped before the task finished.
bool finetune_cell(const SweepFineTune& f, const fs::path& checkpoint, const fs::path& dir,
                   Device device, FILE* terminal) {
  const FineTuneTarget target = finetune_target({checkpoint, f.task, f.data, f.tokenizer, device});
  const fs::path out = dir / "finetune" / target.task;
  if (!f.grid.axes.empty()) {
    if (!run_finetune_grid(f.grid, target, out, terminal)) return false;
  } else {
    // As a grid point: the run records its settings, and a finished run with other settings
    // (the sweep file's `set:` changed) is an error rather than silently reused.
    const nlohmann::json settings = target.resolve(f.grid.settings);
    if (!finished_finetune_run(out, target, settings)) run_recorded_finetune(target, settings, out);
  }
  const std::map<std::string, double> task_scores =
      read_task_scores(out / "finetune.json", target.task).value();
  const MetricScores scores(task_scores.begin(), task_scores.end());
  write_task_scores(dir / "finetune.json", target.task, scores);
  if (terminal)
    for (const auto& [metric, value] : scores)
      fmt::print(terminal, "  {} {} {:.4f}\n", target.task, metric, value);
  return !stop_requested();
}

// Each cell fine-tunes after its pretraining: a GPU that cannot compute in a precision the
// fine-tuning asks for (bf16 before sm_80) is refused before the first cell, not after it.
void require_finetune_precisions(const SweepPlan& plan, Device device) {
  if (device == Device::CPU || plan.finetune.empty()) return;
  const DeviceContext gpu(device);
  for (const SweepFineTune& f : plan.finetune) {
    const FineTuneTarget target = finetune_target({{}, f.task, f.data, f.tokenizer, device});
    const std::vector<nlohmann::json> points =
        f.grid.axes.empty() ? std::vector{target.resolve(f.grid.settings)}
                            : grid_point_settings(f.grid, expand_grid(f.grid.axes), target);
    for (const nlohmann::json& settings : points) {
      try {
        gpu.require_compute_dtype(precision_from_name(settings.at("precision").get<std::string>()));
      } catch (const Error& e) {
        MASKLM_FAIL("the sweep's fine-tuning of {}: {}", f.task, e.what());
      }
    }
  }
}

// Finished cells are skipped whatever the sweep file now says: a file edited since they ran
// (say, another fine-tuning precision) would otherwise mix settings silently.
void warn_if_changed_since_finished(const SweepPlan& plan, const nlohmann::json& sweep,
                                    const fs::path& out) {
  const fs::path last = out / "sweep.yaml";
  if (!fs::exists(last) || load_yaml_file(last) == sweep) return;
  const auto finished = std::count_if(plan.cells.begin(), plan.cells.end(), [&](const auto& cell) {
    return fs::exists(out / cell.name / "done.json");
  });
  if (finished > 0)
    log_warn(
        "the sweep file differs from {} (as last run): cells finished earlier ({} of {}) "
        "are skipped as they are; delete a cell's done.json to rerun what changed for it",
        last.string(), finished, plan.cells.size());
}

}  // namespace

TrainOutcome run_sweep(const SweepPlan& plan, const fs::path& sweep_file, const fs::path& out,
                       Device device, FILE* terminal) {
  require_finetune_precisions(plan, device);  // before anything is written
  fs::create_directories(out);
  const nlohmann::json sweep = load_yaml_file(sweep_file);
  warn_if_changed_since_finished(plan, sweep, out);
  write_yaml_file(out / "sweep.yaml", sweep);
  install_stop_signal_handlers();
  const Clock::time_point start = Clock::now();
  const size_t n = plan.cells.size();
  size_t ran = 0;
  double ran_seconds = 0;
  for (size_t i = 0; i < n; ++i) {
    const SweepCellPlan& cell = plan.cells[i];
    const fs::path dir = out / cell.name;
    const std::string progress = fmt::format("[sweep {}/{}] {}", i + 1, n, cell.name);
    if (fs::exists(dir / "done.json")) {
      if (terminal) fmt::print(terminal, "{}: finished earlier, skipped\n", progress);
      continue;
    }
    if (terminal) {
      // Cells still to run, this one included, at the mean time of those finished so far.
      size_t left = 0;
      for (size_t j = i; j < n; ++j) left += !fs::exists(out / plan.cells[j].name / "done.json");
      fmt::print(
          terminal, "{}: starting (elapsed {}, ETA {})\n", progress,
          format_duration(seconds_since(start)),
          ran ? format_duration(ran_seconds / static_cast<double>(ran) * static_cast<double>(left))
              : "after the first cell");
      std::fflush(terminal);
    }
    const Clock::time_point cell_start = Clock::now();
    fs::create_directories(dir);
    write_cell_params(dir / "cell.json", cell.params);
    if (pretrain_cell(plan, cell, dir, device, terminal) == TrainOutcome::STOPPED)
      return TrainOutcome::STOPPED;
    const fs::path checkpoint = checkpoint_path(dir / "checkpoints", cell.steps);
    for (const SweepFineTune& f : plan.finetune)
      if (!finetune_cell(f, checkpoint, dir, device, terminal)) return TrainOutcome::STOPPED;
    const double seconds = seconds_since(cell_start);
    write_file_atomic(dir / "done.json", nlohmann::json{{"seconds", seconds}}.dump() + "\n");
    ++ran;
    ran_seconds += seconds;
    if (terminal) fmt::print(terminal, "{}: done in {}\n", progress, format_duration(seconds));
  }
  if (terminal)
    fmt::print(terminal, "sweep: {} cells in {} ({} run now); `masklm report {}` summarizes them\n",
               n, out.string(), ran, out.string());
  return TrainOutcome::FINISHED;
}

}  // namespace masklm
