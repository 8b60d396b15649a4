// `masklm eval`: MLM loss, perplexity and accuracy of a checkpoint on validation data, at
// the evaluation masking its run was configured with (train.eval_mask_rate, eval_seed):
// the validation split of a prepared corpus, or the run's synthetic task.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "kernels/device_context.h"
#include "model/hf_config.h"
#include "runtime/error.h"
#include "runtime/threads.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/training_data.h"

namespace masklm::cli {

namespace {

struct EvalOptions {
  std::string checkpoint;
  std::string data;
  int64_t batches = 0;
  bool json = false;
  int threads = 0;
  std::string device = "cpu";
};

void run_eval(const EvalOptions& o) {
  set_num_threads(o.threads);
  DeviceContext device(parse_device(o.device));
  RunConfig run = parse_run_config(read_checkpoint_run_config(o.checkpoint));
  const std::string trained_on = run.data.value("source", "");
  if (o.data == "synthetic") {
    MASKLM_CHECK(trained_on == "synthetic",
                 "--data synthetic: checkpoint '{}' was not trained on the synthetic task, so its "
                 "settings are unknown",
                 o.checkpoint);
  } else {
    MASKLM_CHECK(trained_on == "shards",
                 "--data {}: checkpoint '{}' was trained on the {} source, not on token shards",
                 o.data, o.checkpoint, trained_on);
    // Same tokenizer setting (data.tokenizer or the directory's own), other shards.
    run.data["dir"] = o.data;
  }
  if (o.batches > 0) run.train.eval_batches = o.batches;
  const TrainingData data = open_training_data(run);
  // The checkpoint's config.json is the model, exactly as export and transformers read it;
  // the masklm-only skip-corrupted options come from the run's config.
  ModelConfig model_config = read_hf_config(std::filesystem::path(o.checkpoint) / "config.json");
  model_config.skip_corrupted = run.model.skip_corrupted;
  model_config.decoder_layers = run.model.decoder_layers;
  model_config.mask_token_id = run.model.mask_token_id;
  MASKLM_CHECK(data.vocab_size == model_config.vocab_size,
               "--data {}: its vocabulary has {} tokens, the model in '{}' {}", o.data,
               data.vocab_size, o.checkpoint, model_config.vocab_size);
  const int64_t max_tokens = run.train.micro_batch_size * run.train.seq_len;
  MlmModel model(model_config, Capacity{max_tokens, max_tokens}, DType::F32, device.device());
  load_model_weights(o.checkpoint, model);
  const EvalResult r = evaluate_mlm(device.ctx(), model, *data.validation, run.train.eval_batches);
  if (o.json) {
    fmt::print("{}\n", nlohmann::json{{"checkpoint", o.checkpoint},
                                      {"data", o.data},
                                      {"batches", run.train.eval_batches},
                                      {"mask_rate", run.train.eval_mask_rate},
                                      {"loss", r.loss},
                                      {"perplexity", r.perplexity},
                                      {"accuracy", r.accuracy},
                                      {"predictions", r.predictions}}
                           .dump());
    return;
  }
  fmt::print(
      "checkpoint {}\ndata {} ({} batches, {:.0f}% masked, {} predictions)\nloss "
      "{:.4f}\nperplexity {:.3f}\n"
      "accuracy {:.2f}%\n",
      o.checkpoint, o.data, run.train.eval_batches, 100 * run.train.eval_mask_rate, r.predictions,
      r.loss, r.perplexity, 100 * r.accuracy);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto opts = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval", "MLM loss, perplexity and accuracy of a checkpoint");
  cmd->add_option("--checkpoint", opts->checkpoint,
                  "Checkpoint directory (RUN_DIR/checkpoints/step-N)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--data", opts->data, "Validation data: a directory from `masklm prepare` (its val split) or "
                  "synthetic (the run's synthetic task)")
      ->required();
  cmd->add_option("--batches", opts->batches,
                  "Validation batches (default: the run's train.eval_batches)");
  cmd->add_flag("--json", opts->json, "Print one JSON object");
  cmd->add_option("--threads", opts->threads, "CPU threads (0: OMP_NUM_THREADS or all cores)")
      ->capture_default_str();
  cmd->add_option("--device", opts->device, "cpu or cuda (GPU 0; docs/gpu.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->callback([opts] { run_eval(*opts); });
}

}  // namespace masklm::cli
