// What a fine-tuning grid or sweep runs at each point, whatever the task: the task's key in
// finetune.json, the metric that ranks configurations, the strict reader of its settings and
// the run. GLUE-style tasks (train/finetune.h) and SQuAD (train/finetune_squad.h) are targets.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

#include "runtime/tensor.h"

namespace masklm {

struct FineTuneTarget {
  std::string task;    // its key in finetune.json: "sst2", "squad_v1.1"
  std::string metric;  // headline: "accuracy", "f1"
  // Every setting with its value, from a settings tree (--set, plus a grid point's) read by
  // the task's strict reader: unknown keys, wrong types and impossible values are errors.
  std::function<nlohmann::json(const nlohmann::json& settings)> resolve;
  // Fine-tunes with resolved settings into `out`, writing the task's scores to
  // OUT/finetune.json last.
  std::function<void(const nlohmann::json& resolved, const std::filesystem::path& out)> run;
};

// What every run of a task reads.
struct FineTuneSource {
  std::filesystem::path checkpoint;  // a masklm checkpoint (model.safetensors + config.json)
  std::string task;                  // "glue/sst2", "reuters-grain", "squad/v1.1", ...
  std::filesystem::path data;        // as --data
  std::filesystem::path tokenizer;   // empty: the checkpoint run's
  Device device = Device::CPU;
};

// SQuAD for "squad/v1.1" and "squad/v2.0", else a GLUE-style task (train/finetune.h's
// names); errors for unknown tasks.
FineTuneTarget finetune_target(const FineTuneSource& source);

}  // namespace masklm
