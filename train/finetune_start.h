// What a fine-tuning job starts from: the pretraining checkpoint's model config and the
// tokenizer its run trained with (or the one the user names), checked against each other.
#pragma once

#include <filesystem>
#include <memory>

#include "data/tokenizer.h"
#include "model/config.h"

namespace masklm {

struct FineTuneStart {
  std::filesystem::path checkpoint;  // absolute
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;
};

// `tokenizer` empty: the checkpoint run's (train/checkpoint.h find_run_tokenizer). Errors
// when there is none, or when it has more tokens than the model's vocabulary.
FineTuneStart load_finetune_start(const std::filesystem::path& checkpoint,
                                  const std::filesystem::path& tokenizer);

}  // namespace masklm
