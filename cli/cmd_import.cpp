// `masklm import`: a model saved by transformers (BertForMaskedLM, RobertaForMaskedLM,
// RobertaPreLayerNormForMaskedLM) as a masklm checkpoint at step 0 with fresh optimizer
// state, which pretraining resumes from (model/hf_checkpoint.h).
#include <fmt/format.h>

#include "cli/commands.h"
#include "model/hf_checkpoint.h"
#include "runtime/error.h"
#include "train/checkpoint.h"
#include "train/run_config.h"

namespace masklm::cli {

namespace {

namespace fs = std::filesystem;

struct ImportOptions {
  std::string hf_dir;
  std::string out;
};

void run_import(const ImportOptions& o) {
  const fs::path out = fs::absolute(o.out).lexically_normal();
  MASKLM_CHECK(!fs::exists(out), "--out '{}' exists; choose a new checkpoint directory",
               out.string());
  RunConfig run;
  run.model = read_hf_model_config(o.hf_dir);
  MlmModel model(run.model, Capacity{1, 1});
  load_hf_weights(o.hf_dir, model.params());
  AdamW optimizer(model.params(), model.grads(), AdamWConfig{});  // zero moments, step 0
  // Only the model is known: a recipe supplies data and training settings on resume.
  const nlohmann::json run_config = {{"model", run_config_to_json(run).at("model")},
                                     {"imported_from", fs::absolute(o.hf_dir).string()}};
  save_checkpoint(out, model, optimizer, TrainerState{}, run_config);
  if (fs::is_regular_file(fs::path(o.hf_dir) / "tokenizer.json"))
    fs::copy_file(fs::path(o.hf_dir) / "tokenizer.json", out / "tokenizer.json");
  fmt::print(
      "imported {} ({} layers, hidden {}, {}-LN, vocab {}) into {}\n"
      "to train it: place it at RUN_DIR/checkpoints/step-00000000 and run "
      "masklm pretrain --config RECIPE --out RUN_DIR --resume (the recipe's model must match)\n",
      o.hf_dir, run.model.num_layers, run.model.hidden_size,
      run.model.pre_layernorm ? "pre" : "post", run.model.vocab_size, out.string());
}

}  // namespace

void register_import(CLI::App& app) {
  auto opts = std::make_shared<ImportOptions>();
  auto* cmd = app.add_subcommand("import",
                                 "Turn a Hugging Face masked-LM model directory into a checkpoint");
  cmd->add_option("--hf,--from", opts->hf_dir,
                  "transformers model directory (config.json, model.safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", opts->out, "Checkpoint directory to create")->required();
  cmd->callback([opts] { run_import(*opts); });
}

}  // namespace masklm::cli
