// `masklm pretrain`: pretraining from the command line. This version trains on the
// built-in synthetic task (train/synthetic_task.h), which needs no data files.
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "cli/commands.h"
#include "runtime/error.h"
#include "runtime/threads.h"
#include "train/synthetic_pretrain.h"

namespace masklm::cli {

namespace {

struct PretrainOptions {
  bool synthetic = false;
  std::string preset = "tiny";
  int64_t steps = 300;
  uint64_t seed = 0;
  double lr = 2e-3;
  int threads = 0;
  int64_t log_every = 20;
};

void run_pretrain(const PretrainOptions& o) {
  MASKLM_CHECK(o.synthetic, "pretraining on token shards needs a config (coming with `--config`); "
                            "use --synthetic to train on the built-in synthetic task");
  MASKLM_CHECK(o.log_every > 0, "--log-every must be positive, got {}", o.log_every);
  set_num_threads(o.threads);
  SyntheticRun run;
  run.task.seed = o.seed;
  run.model = model_preset(o.preset, run.task.vocab_size);
  run.model.max_position_embeddings = run.task.seq_len;
  run.seed = o.seed;
  run.steps = o.steps;
  run.lr = LrSchedule{o.lr, std::max<int64_t>(1, o.steps / 10), o.steps, LrDecay::LINEAR, 0.0};
  const double context_free = std::log(static_cast<double>(run.task.vocab_size - 1));
  fmt::print("masklm pretrain: synthetic repeated-motif task (V={}, period {}), model '{}' ({} layers, hidden {}), "
             "{} steps, {} threads\n",
             run.task.vocab_size, run.task.period, o.preset, run.model.num_layers, run.model.hidden_size, o.steps,
             num_threads());
  fmt::print("a model that ignores context cannot go below ln({}) = {:.3f} nats\n", run.task.vocab_size - 1,
             context_free);
  const auto start = std::chrono::steady_clock::now();
  double window_loss = 0, window_acc = 0;
  int64_t window = 0;
  const auto losses = run_synthetic_pretraining(run, [&](const StepReport& r) {
    window_loss += r.loss;
    window_acc += r.accuracy;
    ++window;
    if ((r.step + 1) % o.log_every != 0 && r.step + 1 != o.steps) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double eta = elapsed / static_cast<double>(r.step + 1) * static_cast<double>(o.steps - r.step - 1);
    fmt::print("step {:>5}/{}  loss {:.4f}  acc {:5.1f}%  lr {:.2e}  |g| {:.3f}  {:>8.0f} tok/s  eta {:.0f}s\n",
               r.step + 1, o.steps, window_loss / window, 100 * window_acc / window, r.lr, r.grad_norm,
               r.tokens_per_second, eta);
    window_loss = window_acc = 0;
    window = 0;
  });
  fmt::print("final loss {:.4f} nats ({:.1f}% of the context-free bound)\n", losses.back(),
             100 * losses.back() / context_free);
}

}  // namespace

void register_pretrain(CLI::App& app) {
  auto opts = std::make_shared<PretrainOptions>();
  auto* cmd = app.add_subcommand("pretrain", "Pretrain an MLM encoder");
  cmd->add_flag("--synthetic", opts->synthetic, "Train on the built-in synthetic task (no data needed)");
  cmd->add_option("--preset", opts->preset, "Model preset: tiny, mini, small, medium, base, large")
      ->capture_default_str();
  cmd->add_option("--steps", opts->steps, "Training steps")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", opts->seed, "Random seed (init, data, dropout)")->capture_default_str();
  cmd->add_option("--lr", opts->lr, "Peak learning rate (10% warmup, linear decay)")->capture_default_str();
  cmd->add_option("--threads", opts->threads, "CPU threads (0: OMP_NUM_THREADS or all cores)")->capture_default_str();
  cmd->add_option("--log-every", opts->log_every, "Steps per progress line")->capture_default_str();
  cmd->callback([opts] { run_pretrain(*opts); });
}

}  // namespace masklm::cli
