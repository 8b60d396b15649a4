#include "train/pretrain.h"

#include <fmt/format.h>

#include "runtime/log.h"
#include "runtime/threads.h"
#include "train/config_file.h"
#include "train/resume_check.h"
#include "train/stop_signal.h"
#include "train/training_data.h"

namespace masklm {

TrainOutcome pretrain(const PretrainRequest& request) {
  namespace fs = std::filesystem;
  MASKLM_CHECK(!request.run_dir.empty(), "pretraining needs a run directory (--out)");
  require_device(request.device);  // before anything is written
  const fs::path saved_config = request.run_dir / "config.yaml";
  MASKLM_CHECK(!request.config_file.empty() || request.resume,
               "a recipe is required (--config configs/NAME.yaml); only --resume may reuse {}",
               saved_config.string());
  nlohmann::json tree =
      load_yaml_file(request.config_file.empty() ? saved_config : request.config_file);
  for (const std::string& o : request.overrides) apply_override(tree, o);
  RunConfig config = parse_run_config(tree);
  const TrainingData data = open_training_data(config);
  resolve_vocab_size(config, data.vocab_size, data.mask_token_id);

  // Data parallel: every rank trains; rank 0 alone writes the run directory and prints.
  const std::shared_ptr<Comm> comm = world_comm(request.device);
  const bool leader = comm->rank() == 0;
  FILE* terminal = leader ? request.terminal : nullptr;
  const fs::path checkpoints = request.run_dir / "checkpoints";
  const bool has_checkpoints = !list_checkpoints(checkpoints).empty();
  MASKLM_CHECK(
      request.resume || !has_checkpoints,
      "'{}' already holds checkpoints: add --resume to continue that run, or choose another --out",
      request.run_dir.string());
  if (request.resume && has_checkpoints)
    check_resumed_recipe(parse_run_config(load_yaml_file(saved_config)), config);
  if (leader) {
    fs::create_directories(request.run_dir);
    write_yaml_file(saved_config, run_config_to_json(config));
  }
  install_stop_signal_handlers();

  Trainer trainer(config, *data.train, data.validation.get(), request.run_dir, {}, terminal, comm,
                  request.device);
  if (request.resume && !trainer.resume())
    log_info("no checkpoint in {}: starting at step 0", checkpoints.string());
  const ModelConfig& m = config.model;
  const TrainConfig& t = config.train;
  if (terminal)
    fmt::print(terminal,
               "masklm pretrain: {} layers, hidden {}, {} heads, {}-LN, vocab {} ({:.2f}M "
               "parameters); batch {} x {} "
               "tokens ({} micro-batches of {} over {} ranks), steps {} to {}, {}; run "
               "directory {}\n",
               m.num_layers, m.hidden_size, m.num_heads, m.pre_layernorm ? "pre" : "post",
               m.vocab_size, static_cast<double>(param_count(trainer.model().params())) / 1e6,
               t.batch_size, t.seq_len, t.accumulation_steps(), t.micro_batch_size,
               comm->world_size(), trainer.step(), t.steps,
               request.device == Device::CPU ? fmt::format("{} threads", num_threads())
                                             : trainer.device_context().description(),
               request.run_dir.string());
  return trainer.run();
}

}  // namespace masklm
