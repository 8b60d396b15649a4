// MLM validation: loss, perplexity and accuracy over a fixed set of validation batches.
#pragma once

#include <cstdint>

#include "model/mlm_model.h"
#include "train/batch_source.h"

namespace masklm {

struct EvalResult {
  double loss = 0;        // mean cross-entropy over all predictions (nats)
  double perplexity = 0;  // exp(loss)
  double accuracy = 0;    // fraction of predictions whose argmax is the label
  int64_t predictions = 0;
};

// Runs batches source.batch(i, 0), i < batches, without dropout; weights every batch by its
// number of predictions.
EvalResult evaluate_mlm(Ctx& ctx, MlmModel& model, const BatchSource& source, int64_t batches);

}  // namespace masklm
