// The sparse MLM head: only the P predicted rows are gathered and transformed
// (dense -> GELU -> LayerNorm), then scored against the tied word embeddings plus a bias
// with a chunked softmax-cross-entropy. Cost and memory are linear in P; no (P, V) buffer.
#pragma once

#include "model/encoder.h"

namespace masklm {

// Fills acts.losses / lse / correct for the batch's predictions from the encoder output.
void mlm_head_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                      const BatchTensors& batch, const Tensor& encoder_out, int64_t vocab_chunk);

// Gradients of loss_scale times the mean loss over the P predictions: parameter gradients
// accumulate into grads; the encoder-output gradient accumulates into d_encoder_out (N, C).
void mlm_head_backward(Ctx& ctx, const ModelParams& params, const ModelParams& grads,
                       const Activations& acts, GradScratch& scratch, const BatchTensors& batch,
                       const Tensor& d_encoder_out, int64_t vocab_chunk, double loss_scale);

// Full (P, V) logits of the last forward, for evaluation and tests only.
void mlm_head_logits(Ctx& ctx, const ModelParams& params, const Activations& acts, int64_t num_predictions,
                     const Tensor& logits);

}  // namespace masklm
