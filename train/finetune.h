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
#include "train/finetune_options.h"

namespace masklm {

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

// The means are over the epoch's batches that updated the model (NaN if none did).
struct EpochLog {
  int64_t epoch = 0;
  double train_loss = 0;  // the batches' mean losses
  double grad_norm = 0;   // their gradient norms before clipping
  // fp16 only: batches whose gradients overflowed at the loss scale, which then backed off,
  // so they updated nothing (a few in the first steps are expected).
  int64_t skipped_steps = 0;
};

// Trains `model` (on ctx's device) on the examples (labels, or scores for regression);
// returns per-epoch losses.
std::vector<EpochLog> finetune_train(Ctx& ctx, FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                     const std::vector<GlueExample>& gold, const FineTuneOptions& options);
// The model's predictions, batch_size examples at a time, dropout off.
GluePredictions finetune_predict(Ctx& ctx, FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                 int64_t batch_size);

struct GlueFineTuneJob {
  std::filesystem::path checkpoint;  // a masklm checkpoint (model.safetensors + config.json)
  std::string task;                  // "sst2", "glue/sst2", "SST-2", ...
  std::filesystem::path data;        // the task's directory, or a GLUE root holding it
  std::filesystem::path out;
  std::filesystem::path tokenizer;   // empty: the checkpoint run's (train/checkpoint.h)
  FineTuneOptions options;
  Device device = Device::CPU;  // in options.precision
};

struct GlueFineTuneResult {
  std::vector<EpochLog> epochs;
  std::vector<std::pair<GlueMetric, double>> dev_scores;  // headline metric first
};

// The task a job names: "glue/sst2", "sst2", "SST-2" (eval/glue_tasks.h).
const GlueTask& glue_finetune_task(std::string_view task);

// The whole job: read, tokenize, train, evaluate on dev, write the outputs.
GlueFineTuneResult run_glue_finetune(const GlueFineTuneJob& job);

}  // namespace masklm
