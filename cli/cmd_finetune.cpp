// `masklm finetune`: fine-tunes a pretraining checkpoint on a GLUE task (train/finetune.h)
// or SQuAD (train/finetune_squad.h) and writes its dev scores to OUT/finetune.json and its
// dev predictions beside them; with --grid, every combination of settings
// (train/finetune_grid.h) and their summary.
#include <fmt/format.h>

#include "cli/commands.h"
#include "kernels/device_context.h"
#include "runtime/threads.h"
#include "train/finetune.h"
#include "train/finetune_grid.h"
#include "train/finetune_squad.h"

namespace masklm::cli {

namespace {

// Paths as strings: CLI11 would read a std::filesystem::path with std::quoted, splitting on spaces.
struct FineTuneCliOptions {
  std::string checkpoint, task, data, out, tokenizer;
  std::vector<std::string> settings, grid;
  std::string device = "cpu";
  int threads = 0;
};

void run_grid(const FineTuneCliOptions& o) {
  FineTuneGrid grid{finetune_settings(o.settings), {}};
  for (const std::string& axis : o.grid) grid.axes.push_back(parse_grid_axis(axis));
  const FineTuneTarget target =
      finetune_target({o.checkpoint, o.task, o.data, o.tokenizer, parse_device(o.device)});
  const std::optional<FineTuneGridSummary> summary = run_finetune_grid(grid, target, o.out, stdout);
  fmt::print(
      "{}wrote {}/grid_summary.json and the best configuration's medians to {}/finetune.json\n",
      format_grid_summary(summary.value()), o.out, o.out);
}

void print_epochs(const std::vector<EpochLog>& epochs) {
  for (const EpochLog& e : epochs)
    fmt::print("epoch {} train loss {:.4f} grad norm {:.3f}{}\n", e.epoch, e.train_loss,
               e.grad_norm,
               e.skipped_steps ? fmt::format(" ({} fp16 overflows skipped)", e.skipped_steps) : "");
}

void run_squad(const FineTuneCliOptions& o) {
  const SquadFineTuneJob job{o.checkpoint, o.task, o.data, o.out, o.tokenizer,
                             parse_squad_options(finetune_settings(o.settings)), parse_device(o.device)};
  const SquadFineTuneResult r = run_squad_finetune(job);
  print_epochs(r.epochs);
  for (const auto& [metric, value] : r.dev_scores) fmt::print("dev {} {:.2f}\n", metric, value);
  fmt::print("wrote {}/finetune.json\n", o.out);
}

void run_finetune(const FineTuneCliOptions& o) {
  set_num_threads(o.threads);
  require_device(parse_device(o.device));  // before anything is read or written
  if (!o.grid.empty()) return run_grid(o);
  if (is_squad_task(o.task)) return run_squad(o);
  const GlueFineTuneJob job{o.checkpoint, o.task, o.data, o.out, o.tokenizer,
                            parse_finetune_options(finetune_settings(o.settings)), parse_device(o.device)};
  const GlueFineTuneResult r = run_glue_finetune(job);
  print_epochs(r.epochs);
  for (const auto& [metric, value] : r.dev_scores) fmt::print("dev {} {:.4f}\n", glue_metric_name(metric), value);
  fmt::print("wrote {}/finetune.json\n", o.out);
}

}  // namespace

void register_finetune(CLI::App& app) {
  auto opts = std::make_shared<FineTuneCliOptions>();
  auto* cmd = app.add_subcommand(
      "finetune", "Fine-tune a checkpoint on a GLUE-style or SQuAD task and score it on dev");
  cmd->add_option("--checkpoint", opts->checkpoint, "Checkpoint directory (RUN_DIR/checkpoints/step-N)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--task", opts->task,
                  "glue/NAME: cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli; or reuters-grain, "
                  "reuters-corn (scripts/corpus); or squad/v1.1, squad/v2.0")
      ->required();
  cmd->add_option("--data", opts->data,
                  "The task's directory (train.tsv, dev.tsv) or a GLUE root holding it; SQuAD's holds "
                  "train-v1.1.json and dev-v1.1.json (or -v2.0)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", opts->out, "Output directory (finetune.json, <task>.dev.predictions.txt or .json)")
      ->required();
  cmd->add_option("--tokenizer", opts->tokenizer, "tokenizer.json (default: the checkpoint run's)")
      ->check(CLI::ExistingFile);
  cmd->add_option(
      "--set", opts->settings,
      "key=value: lr (2e-5), batch_size (32), epochs (3), warmup_fraction (0.06), weight_decay "
      "(0.01), clip_norm (1.0), max_length (128), seed (42), precision (fp32; bf16, fp16); SQuAD: "
      "lr (3e-5), epochs (2), max_length (384), doc_stride (128), max_query_length (64), n_best "
      "(20), max_answer_length (30), null_threshold (0.0)");
  cmd->add_option(
      "--grid", opts->grid,
      "key=v1,v2,...: fine-tune every combination into OUT/grid/ and summarize over the seed "
      "axis (repeatable; e.g. --grid lr=1e-5,2e-5 --grid seed=1,2,3)");
  cmd->add_option("--device", opts->device, "cpu or cuda (this process's GPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--threads", opts->threads, "CPU threads (0: OMP_NUM_THREADS or all cores)")->capture_default_str();
  cmd->callback([opts] { run_finetune(*opts); });
}

}  // namespace masklm::cli
