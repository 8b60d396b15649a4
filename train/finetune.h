// GLUE-style fine-tuning: a task's train/dev TSV (data/glue_reader.h, eval/glue_tasks.h)
// tokenized into single sentences or pairs, a FineTuneModel (model/sequence_classifier.h)
// started from a pretraining checkpoint's encoder, AdamW with linear warmup and decay for a
// number of epochs, then the task's metrics on dev (eval/glue_score.h).
//
// Outputs in the run's directory:
//   OUT/finetune.json                 {"<task>": {"<metric>": value, ...}, ...}, the layout
//                                     eval/sweep_results.h reads; other tasks' entries kept
//   OUT/<task>.dev.predictions.txt    one label name (or score) per dev example, the format
//                                     `masklm score glue --pred` reads
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/tokenizer.h"
#include "eval/glue_score.h"
#include "model/sequence_classifier.h"

namespace masklm {

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
};

// Applies one `key=value` override: lr, batch_size, epochs, warmup_fraction, weight_decay,
// clip_norm, max_length, seed. Unknown keys and bad values are errors naming the key.
void apply_finetune_setting(FineTuneOptions& options, std::string_view key_value);

struct EncodedExample {
  std::vector<int32_t> ids;
  std::vector<int32_t> types;  // segment ids (0 for A, 1 for B); empty when the model has none
};

// A sentence or a pair with the tokenizer's special tokens: [CLS] a [SEP] (b [SEP]) for
// BERT-style vocabularies, <s> a </s> (</s> b </s>) when the first special token is "<s>".
// The longer text is truncated first until the example fits max_length. type_vocab_size
// of the model decides the segment ids: none (0), all zero (1), or 0/1 (2 and more).
EncodedExample encode_glue_example(const Tokenizer& tokenizer, const GlueExample& example, int64_t max_length,
                                   int64_t type_vocab_size);

struct EpochLog {
  int64_t epoch = 0;
  double train_loss = 0;  // mean over the epoch's batches
};

// Trains `model` on the examples (labels, or scores for regression); returns per-epoch losses.
std::vector<EpochLog> finetune_train(FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                     const std::vector<GlueExample>& gold, const FineTuneOptions& options);
// The model's predictions, batch_size examples at a time, dropout off.
GluePredictions finetune_predict(FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                 int64_t batch_size);

struct GlueFineTuneJob {
  std::filesystem::path checkpoint;  // a masklm checkpoint (model.safetensors + config.json)
  std::string task;                  // "sst2", "glue/sst2", "SST-2", ...
  std::filesystem::path data;        // the task's directory, or a GLUE root holding it
  std::filesystem::path out;
  std::filesystem::path tokenizer;   // empty: the checkpoint run's (train/checkpoint.h)
  FineTuneOptions options;
};

struct GlueFineTuneResult {
  std::vector<EpochLog> epochs;
  std::vector<std::pair<GlueMetric, double>> dev_scores;  // headline metric first
};

// The whole job: read, tokenize, train, evaluate on dev, write the outputs.
GlueFineTuneResult run_glue_finetune(const GlueFineTuneJob& job);

}  // namespace masklm
