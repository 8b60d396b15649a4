// Opens the batch sources a run trains and validates on, from its `data` section:
//   source: synthetic   the built-in repeated-motif task (train/synthetic_task.h), with
//                       vocab_size, period, mask_rate and seed (default: train.seed)
//   source: shards      a corpus prepared by `masklm prepare` (dir, optional tokenizer):
//                       packed sequences in a shuffled order, masked on the fly by the
//                       `masking` section (train/mlm_batch_source.h)
// Validation always uses the fixed evaluation masking: uniform, BERT's 80-10-10 split, at
// train.eval_mask_rate with train.eval_seed, whatever the training masking.
#pragma once

#include <memory>

#include "train/batch_source.h"
#include "train/run_config.h"

namespace masklm {

struct TrainingData {
  std::unique_ptr<BatchSource> train;
  // Validation micro-batches 0..train.eval_batches-1 (read as batch(i, 0)), masked at the
  // fixed evaluation rate and seed (train.eval_mask_rate, train.eval_seed), so runs trained
  // at different masking rates are compared on the same predictions.
  std::unique_ptr<BatchSource> validation;
  int64_t vocab_size = 0;
  int64_t mask_token_id = -1;  // the [MASK] id, -1 when the vocabulary has none
};

// Throws masklm::Error naming the data key for an unknown source or bad settings.
TrainingData open_training_data(const RunConfig& config);

}  // namespace masklm
