#include "train/finetune_target.h"

#include "train/finetune.h"
#include "train/finetune_squad.h"

namespace masklm {

namespace {

FineTuneTarget glue_target(const FineTuneSource& source) {
  const GlueTask& task = glue_finetune_task(source.task);
  return {task.name, std::string(glue_metric_name(task.metrics.front())),
          [](const nlohmann::json& settings) {
            return finetune_options_to_json(parse_finetune_options(settings));
          },
          [source](const nlohmann::json& resolved, const std::filesystem::path& out) {
            run_glue_finetune({source.checkpoint, source.task, source.data, out, source.tokenizer,
                               parse_finetune_options(resolved), source.device});
          }};
}

FineTuneTarget squad_target(const FineTuneSource& source) {
  return {squad_task_name(source.task), "f1",
          [](const nlohmann::json& settings) {
            return squad_options_to_json(parse_squad_options(settings));
          },
          [source](const nlohmann::json& resolved, const std::filesystem::path& out) {
            run_squad_finetune({source.checkpoint, source.task, source.data, out, source.tokenizer,
                                parse_squad_options(resolved), source.device});
          }};
}

}  // namespace

FineTuneTarget finetune_target(const FineTuneSource& source) {
  // squad_task_name names the SQuAD tasks when a version is wrong.
  return source.task.starts_with("squad") ? squad_target(source) : glue_target(source);
}

}  // namespace masklm
