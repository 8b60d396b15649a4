// `masklm export`: a training checkpoint as a Hugging Face model directory that
// `transformers` loads with from_pretrained (model/hf_checkpoint.h), plus the run's
// tokenizer.json when one can be found.
#include <fmt/format.h>

#include "cli/commands.h"
#include "model/hf_checkpoint.h"
#include "model/hf_config.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "train/checkpoint.h"

namespace masklm::cli {

namespace {

namespace fs = std::filesystem;

struct ExportOptions {
  std::string checkpoint;
  std::string format = "hf";
  std::string out;
  std::string tokenizer;
};

// Whether the checkpoint's run trained the skip-corrupted model (its run configuration says
// so; a checkpoint without trainer state, e.g. an imported model, did not).
bool trained_skip_corrupted(const fs::path& checkpoint) {
  if (!fs::is_regular_file(checkpoint / "trainer_state.json")) return false;
  const nlohmann::json model = read_checkpoint_run_config(checkpoint).value("model", nlohmann::json::object());
  return model.value("encoder", nlohmann::json::object()).value("skip_corrupted", false);
}

void run_export(const ExportOptions& o) {
  MASKLM_CHECK(o.format == "hf", "--format '{}': the only export format is hf", o.format);
  const fs::path checkpoint = fs::absolute(o.checkpoint).lexically_normal();
  const ModelConfig config = read_hf_config(checkpoint / "config.json");
  MlmModel model(config, Capacity{1, 1});
  load_model_weights(checkpoint, model);
  export_hf_model(o.out, config, model.params());
  if (trained_skip_corrupted(checkpoint))
    log_warn("{} was trained with model.encoder.skip_corrupted: the export is its encoder (for "
             "fine-tuning); its MLM head learned to read the decoder's output, which the export "
             "leaves out, so its masked-token predictions are not the run's (masklm eval)",
             checkpoint.string());

  const std::optional<fs::path> tokenizer =
      o.tokenizer.empty() ? find_run_tokenizer(checkpoint) : std::optional<fs::path>(o.tokenizer);
  if (tokenizer) {
    fs::copy_file(*tokenizer, fs::path(o.out) / "tokenizer.json",
                  fs::copy_options::overwrite_existing);
  } else {
    log_warn(
        "no tokenizer.json in {}, its run directory or its dataset manifest: exported the "
        "model without one (pass --tokenizer FILE)",
        checkpoint.string());
  }
  fmt::print("exported {} as {} to {}{}\n", checkpoint.string(),
             config.pre_layernorm ? "RobertaPreLayerNormForMaskedLM" : "BertForMaskedLM", o.out,
             tokenizer ? fmt::format(" (tokenizer from {})", tokenizer->string()) : "");
}

}  // namespace

void register_export(CLI::App& app) {
  auto opts = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand("export", "Write a checkpoint as a Hugging Face model directory");
  cmd->add_option("--checkpoint", opts->checkpoint,
                  "Checkpoint directory (RUN_DIR/checkpoints/step-N)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--format", opts->format,
                  "Output format: hf (config.json, model.safetensors, tokenizer.json)")
      ->capture_default_str();
  cmd->add_option("--out", opts->out, "Output directory")->required();
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "tokenizer.json to include (default: the run's, when it can be found)")
      ->check(CLI::ExistingFile);
  cmd->callback([opts] { run_export(*opts); });
}

}  // namespace masklm::cli
