// Fine-tuning settings (`masklm finetune --set key=value`, the settings of a fine-tuning grid
// or sweep), read like recipes: `--set` edits a tree (train/config_file.h) that a strict
// reader turns into FineTuneOptions, so unknown keys, wrong types and impossible values are
// errors naming the key. Keys and defaults: docs/evaluation.md.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace masklm {

class ConfigReader;

// Defaults follow RoBERTa's GLUE recipe (and BERT's lr/batch/epochs).
struct FineTuneOptions {
  double lr = 2e-5;
  int64_t batch_size = 32;
  int64_t epochs = 3;
  double warmup_fraction = 0.06;  // of all optimizer steps
  double weight_decay = 0.01;
  double clip_norm = 1.0;
  int64_t max_length = 128;  // tokens per example, special tokens included
  uint64_t seed = 42;
  // The models' compute dtype: F32, or BF16/F16 mixed precision (model/finetune_encoder.h;
  // F16 with dynamic loss scaling, train/finetune_loop.h).
  DType precision = DType::F32;
};

// Keys absent from `settings` keep their defaults; null means all defaults.
FineTuneOptions parse_finetune_options(const nlohmann::json& settings);
// The keys above from a reader that other keys share (SQuAD's), `defaults` where absent;
// the caller finishes the reader.
FineTuneOptions read_finetune_options(ConfigReader& reader, FineTuneOptions defaults);
// Every key with its value, which parse_finetune_options reads back to the same options.
nlohmann::json finetune_options_to_json(const FineTuneOptions& options);
// The settings tree of `key=value` assignments (--set), values typed as YAML reads them.
nlohmann::json finetune_settings(const std::vector<std::string>& assignments);

}  // namespace masklm
