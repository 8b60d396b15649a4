// Shared pieces of the fine-tuning tests: a pretraining run to start from, batches of random
// sequences for the classifier and the span model, and a learnable SST-2-style task (one
// sentiment word among filler words decides the label) in GLUE's TSV layout.
#pragma once

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "model/sequence_classifier.h"
#include "model/span_extraction.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"

namespace masklm::testing {

// A pretraining run in `run_dir` as fine-tuning finds one: a checkpoint of a model of
// `config` initialized from seed 3, and the run's tokenizer (a copy of `tokenizer`).
// Returns the checkpoint's directory.
inline std::filesystem::path write_pretrained_run(const std::filesystem::path& run_dir,
                                                  const ModelConfig& config,
                                                  const std::filesystem::path& tokenizer) {
  MlmModel pretrained(config, Capacity{24, 24});
  pretrained.init_weights(3);
  AdamW unused(pretrained.params(), pretrained.grads(), AdamWConfig{});
  const std::filesystem::path checkpoint = run_dir / "checkpoints" / "step-00000001";
  save_checkpoint(checkpoint, pretrained, unused, TrainerState{}, nlohmann::json::object());
  std::filesystem::copy_file(tokenizer, run_dir / "tokenizer.json");
  return checkpoint;
}

// Four sequences of random tokens and types (lengths 5, 1, 8, 3), each with a random label
// (classification) and a random target score (read by regression).
inline ClassificationBatch random_classification_batch(const ModelConfig& c, int num_labels,
                                                       uint32_t seed) {
  std::mt19937 rng(seed);
  ClassificationBatch b;
  for (int len : {5, 1, 8, 3}) {
    std::vector<int32_t> ids, types;
    for (int i = 0; i < len; ++i) {
      ids.push_back(static_cast<int32_t>(rng() % c.vocab_size));
      types.push_back(static_cast<int32_t>(rng() % 2));
    }
    b.add(ids, types, num_labels == 1 ? 0 : static_cast<int32_t>(rng() % num_labels),
          static_cast<double>(rng() % 100) / 25.0 - 2.0);
  }
  return b;
}

// Four sequences of random tokens (lengths 6, 1, 9, 4) with random answer spans.
inline SpanBatch random_span_batch(const ModelConfig& c, uint32_t seed) {
  std::mt19937 rng(seed);
  SpanBatch b;
  for (int len : {6, 1, 9, 4}) {
    // Random tokens; a question-like first half of type 0, a context-like second half of type 1.
    std::vector<int32_t> ids(static_cast<size_t>(len)), types(static_cast<size_t>(len), 0);
    std::generate(ids.begin(), ids.end(),
                  [&] { return static_cast<int32_t>(rng() % c.vocab_size); });
    std::fill(types.begin() + len / 2, types.end(), 1);
    const int32_t start = static_cast<int32_t>(rng() % len);
    b.add(ids, types, start, start + static_cast<int32_t>(rng() % (len - start)));
  }
  return b;
}

// `rows` sentences with a header line; the first positive_fraction of them are positive.
inline std::string sentiment_tsv(int rows, double positive_fraction, uint32_t seed) {
  const char* filler[] = {"the", "movie",  "was", "a",    "story",
                          "of",  "actors", "and", "plot", "with"};
  std::mt19937 rng(seed);
  std::string tsv = "sentence\tlabel\n";
  for (int r = 0; r < rows; ++r) {
    const bool positive = r < positive_fraction * rows;
    std::vector<std::string> words;
    for (int i = 0, n = 3 + static_cast<int>(rng() % 5); i < n; ++i)
      words.push_back(filler[rng() % 10]);
    words.insert(words.begin() + static_cast<long>(rng() % words.size()),
                 positive ? "great" : "awful");
    std::string sentence;
    for (const std::string& w : words) sentence += (sentence.empty() ? "" : " ") + w;
    tsv += sentence + (positive ? "\t1\n" : "\t0\n");
  }
  return tsv;
}

}  // namespace masklm::testing
