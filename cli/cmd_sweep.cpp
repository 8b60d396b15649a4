// `masklm sweep --grid FILE.yaml --out DIR`: a grid of pretraining (+ fine-tuning) runs into
// one directory (eval/sweep_runner.h), resumable; `masklm report DIR` summarizes it.
#include <fmt/format.h>

#include <cstdlib>

#include "cli/commands.h"
#include "eval/sweep_runner.h"
#include "kernels/device_context.h"
#include "runtime/threads.h"
#include "train/stop_signal.h"

namespace masklm::cli {

namespace {

// Paths as strings: CLI11 would read a std::filesystem::path with std::quoted, splitting on spaces.
struct SweepCliOptions {
  std::string grid, out, device = "cpu";
  bool dry_run = false;
  int threads = 0;
};

void print_cells(const SweepPlan& plan) {
  for (size_t i = 0; i < plan.cells.size(); ++i) {
    const SweepCellPlan& c = plan.cells[i];
    std::string rates = c.params.mask_rate ? fmt::format("mask_rate {}", *c.params.mask_rate) : "";
    if (c.params.m_corr)
      rates = fmt::format("m_corr {} m_pred {}", *c.params.m_corr, *c.params.m_pred);
    fmt::print("{:>4}  {}  (model {}, seed {}, {}{}; {} steps)\n", i + 1, c.name, c.params.model,
               c.params.seed, rates,
               c.params.variant.empty() ? "" : ", variant " + c.params.variant, c.steps);
  }
  for (const SweepFineTune& f : plan.finetune)
    fmt::print("each cell then fine-tunes on {} ({} runs)\n", f.task,
               f.grid.axes.empty() ? 1 : expand_grid(f.grid.axes).size());
}

// The exit status, as `masklm pretrain` gives it: 128 + the signal after a stop.
int run_sweep_command(const SweepCliOptions& o) {
  const SweepPlan plan = load_sweep(o.grid);
  if (o.dry_run) {
    print_cells(plan);
    return 0;
  }
  set_num_threads(o.threads);
  if (run_sweep(plan, o.grid, o.out, parse_device(o.device), stdout) == TrainOutcome::FINISHED)
    return 0;
  fmt::print("sweep stopped by signal {}; run the same command again to continue.\n",
             stop_signal());
  return 128 + stop_signal();
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto opts = std::make_shared<SweepCliOptions>();
  auto* cmd =
      app.add_subcommand("sweep", "Run a grid of pretraining (+ fine-tuning) runs, resumably");
  cmd->add_option("--grid", opts->grid, "Sweep file (configs/sweeps/*.yaml; docs/evaluation.md)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", opts->out, "Sweep directory: one subdirectory per cell")->required();
  cmd->add_option("--device", opts->device,
                  "Pretraining and fine-tuning on cpu or cuda (this process's GPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_flag("--dry-run", opts->dry_run, "List the cells and their parameters, run nothing");
  cmd->add_option("--threads", opts->threads, "CPU threads (0: OMP_NUM_THREADS or all cores)")
      ->capture_default_str();
  cmd->callback([opts] {
    if (const int status = run_sweep_command(*opts); status != 0) std::exit(status);
  });
}

}  // namespace masklm::cli
