// `masklm pretrain`: trains from a YAML recipe (configs/) into a run directory.
#include <fmt/format.h>

#include <cstdlib>

#include "cli/commands.h"
#include "kernels/device_context.h"
#include "runtime/error.h"
#include "runtime/threads.h"
#include "train/pretrain.h"
#include "train/stop_signal.h"

namespace masklm::cli {

namespace {

struct PretrainOptions {
  PretrainRequest request;
  std::string device = "cpu";
  int threads = 0;
};

// The exit status: 0 when training finished; after a stop by SIGINT/SIGTERM (checkpoint
// written) 128 + the signal, as shells report it, so scripts can tell a stopped run.
int run_pretrain(const PretrainOptions& o) {
  set_num_threads(o.threads);
  PretrainRequest request = o.request;
  request.device = parse_device(o.device);
  if (pretrain(request) == TrainOutcome::FINISHED) return 0;
  fmt::print(
      "stopped by signal {} at a step boundary; checkpoint written. Continue with --resume.\n",
      stop_signal());
  return 128 + stop_signal();
}

}  // namespace

void register_pretrain(CLI::App& app) {
  auto opts = std::make_shared<PretrainOptions>();
  auto* cmd = app.add_subcommand("pretrain", "Pretrain an MLM encoder from a YAML recipe");
  cmd->add_option("--config", opts->request.config_file,
                  "Recipe, e.g. configs/tiny.yaml (docs/config.md)");
  cmd->add_option("--set", opts->request.overrides,
                  "Override a recipe key: --set train.steps=100 (repeatable)")
      ->take_all();
  cmd->add_option("--out", opts->request.run_dir,
                  "Run directory: config, metrics, events, checkpoints")
      ->required();
  cmd->add_option("--device", opts->device, "cpu or cuda (one GPU per process; docs/gpu.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_flag("--resume", opts->request.resume, "Continue from the newest checkpoint in --out");
  cmd->add_option("--threads", opts->threads, "CPU threads (0: OMP_NUM_THREADS or all cores)")
      ->capture_default_str();
  cmd->callback([opts] {
    if (const int status = run_pretrain(*opts); status != 0) std::exit(status);
  });
}

}  // namespace masklm::cli
