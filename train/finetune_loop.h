// The fine-tuning loop every task shares: epochs over the training examples in an order
// shuffled per epoch from the seed, mini-batches of batch_size, AdamW with linear warmup
// then linear decay to 0 over all steps. What a batch is and how its loss is computed is
// the task's: a callback builds the batch, runs forward and backward, and returns the loss.
// A model computing in F16 gets dynamic loss scaling (train/loss_scaler.h, as pretraining
// does): a batch whose gradients overflow at the scale updates nothing while the scale backs
// off. Non-finite gradients otherwise (fp32, bf16, fp16 at the smallest scale) are an error.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/finetune_encoder.h"
#include "train/finetune.h"

namespace masklm {

// Zeroes the gradients, runs forward and backward on the examples (indices into the
// training set) with `dropout`, the backward's loss times loss_scale, and returns the
// batch's mean loss.
using FineTuneStep = std::function<double(std::span<const size_t> examples,
                                          const DropoutPlan& dropout, double loss_scale)>;

// Runs options.epochs epochs over `num_examples` examples, the optimizer over `model`'s
// parameters (and its compute copy in mixed precision) on `ctx`'s device (the model's);
// returns the per-epoch mean losses.
std::vector<EpochLog> run_finetune_epochs(Ctx& ctx, const FineTuneEncoder& model,
                                          size_t num_examples, const FineTuneOptions& options,
                                          const FineTuneStep& step);

}  // namespace masklm
