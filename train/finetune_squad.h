// SQuAD v1.1 / v2.0 fine-tuning: the task's train and dev JSON (eval/squad.h) cut into
// windows (eval/squad_features.h), a SpanExtractionModel (model/span_extraction.h) started
// from a pretraining checkpoint's encoder and trained with the shared fine-tuning loop
// (train/finetune_loop.h), then dev answers from the n-best post-processing
// (eval/squad_postprocess.h) scored as the official scripts score them (eval/squad_score.h).
//
// Outputs in the run's directory:
//   OUT/finetune.json                    {"squad_v1.1": {"exact": .., "f1": ..}} (percentages;
//                                        v2.0 adds HasAns_/NoAns_ exact and f1); other
//                                        tasks' entries kept
//   OUT/<task>.dev.predictions.json      {"question id": "answer", ...}, the file
//                                        `masklm score squad --pred` reads
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eval/squad_features.h"
#include "eval/squad_postprocess.h"
#include "train/finetune.h"
#include "train/finetune_scores.h"

namespace masklm {

struct SquadFineTuneOptions {
  // lr, batch_size (windows per step), epochs, warmup_fraction, weight_decay, clip_norm,
  // max_length and seed, with Hugging Face's run_qa.py example's lr, epochs and max_length;
  // max_length is read here and copied to features.max_length, which the windows use.
  FineTuneOptions train{.lr = 3e-5, .epochs = 2, .max_length = 384};
  SquadFeatureOptions features;         // max_length 384, doc_stride 128, max_query_length 64
  SquadPostprocessOptions postprocess;  // n_best 20, max_answer_length 30, null_threshold 0
};

// Reads settings like parse_finetune_options (train/finetune_options.h), whose keys it shares,
// plus doc_stride, max_query_length, n_best, max_answer_length and null_threshold; absent keys
// keep SquadFineTuneOptions' defaults. Errors name the key.
SquadFineTuneOptions parse_squad_options(const nlohmann::json& settings);
// Every key with its value, which parse_squad_options reads back to the same options.
nlohmann::json squad_options_to_json(const SquadFineTuneOptions& options);

// "squad/v1.1" or "squad/v2.0".
bool is_squad_task(std::string_view task);
// The task's key in finetune.json, "squad_v1.1"; errors for a task that is not SQuAD's.
std::string squad_task_name(std::string_view task);

struct SquadFineTuneJob {
  std::filesystem::path checkpoint;  // a masklm checkpoint (model.safetensors + config.json)
  std::string task;                  // "squad/v1.1" or "squad/v2.0"
  std::filesystem::path data;        // holds train-v1.1.json and dev-v1.1.json (or -v2.0)
  std::filesystem::path out;
  std::filesystem::path tokenizer;  // empty: the checkpoint run's (train/checkpoint.h)
  SquadFineTuneOptions options;
  Device device = Device::CPU;  // in options.train.precision
};

struct SquadFineTuneResult {
  std::vector<EpochLog> epochs;
  int64_t train_features = 0, dev_features = 0;  // windows
  MetricScores dev_scores;                       // exact, f1 (, HasAns_*, NoAns_*)
};

// Trains a span model on the windows; returns per-epoch losses.
std::vector<EpochLog> squad_train(Ctx& ctx, SpanExtractionModel& model,
                                  const std::vector<SquadFeature>& features,
                                  const FineTuneOptions& options);
// The model's logits for every window, batch_size windows at a time, dropout off.
std::vector<SpanLogits> squad_logits(Ctx& ctx, SpanExtractionModel& model,
                                     const std::vector<SquadFeature>& features, int64_t batch_size);

// The whole job: read, cut into windows, train, predict and score dev, write the outputs.
SquadFineTuneResult run_squad_finetune(const SquadFineTuneJob& job);

}  // namespace masklm
