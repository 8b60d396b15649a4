// The encoder's forward and backward on an unpadded batch, written once against
// kernels/ops.h: embeddings -> L blocks (self-attention, GELU FFN; post-LN or pre-LN)
// -> final LayerNorm for pre-LN.
#pragma once

#include "kernels/ops.h"
#include "model/activations.h"
#include "model/params.h"

namespace masklm {

// Batch arrays as device tensors (N tokens, B sequences, P predictions).
struct BatchTensors {
  Tensor tokens, positions, types;  // (N) I32; types may be empty
  Tensor cu_seqlens;                // (B + 1) I32
  Tensor predict_index, labels;     // (P) I32
  int64_t num_tokens = 0, num_predictions = 0;
};

// Dropout keys of one forward/backward: derived from (seed, step, rank); `training`
// false turns every dropout off.
struct DropoutPlan {
  RngKey key;
  bool training = false;
};

// Runs the encoder; returns its (N, C) output (a view into acts).
Tensor encoder_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                       const BatchTensors& batch, const DropoutPlan& dropout);

// Accumulates parameter gradients into `grads` from d_out, the (N, C) gradient of the
// encoder output (which it may overwrite).
void encoder_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                      const Activations& acts, GradScratch& scratch, const BatchTensors& batch,
                      const DropoutPlan& dropout, const Tensor& d_out);

}  // namespace masklm
