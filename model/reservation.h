// What a model runs once at start-up on a GPU so that no training step allocates: a
// forward and backward on the largest batch it takes, which grows the op scratch of the
// Ctx's CUDA context (runtime/cuda_context.h) to every size a step can ask for, and a
// batch too large for the GPU fails then rather than hours in. MlmModel and the
// fine-tuning models build that batch; this runs it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/encoder.h"

namespace masklm {

// Token ids for sequences of the given lengths, cycling through [0, vocab_size) over the
// whole batch.
std::vector<std::vector<int32_t>> filler_sequences(std::span<const int64_t> lengths,
                                                   int64_t vocab_size);

// On a GPU: grows the upload staging to `upload_bytes` (the model's largest batch arrays:
// real batches may hold more sequences and token types than the filler), runs `step` (the
// forward and backward) with training dropout, then the gradient norm's partial sums over
// `grads`, zeroes them and waits for the GPU. Nothing to do on the CPU.
void run_reservation_step(Ctx& ctx, size_t upload_bytes, const Tensor& grads,
                          const std::function<void(const DropoutPlan&)>& step);

}  // namespace masklm
