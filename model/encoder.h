// The encoder's forward and backward on an unpadded batch, written once against
// kernels/ops.h: embeddings -> a stack of L blocks (self-attention, GELU FFN; post-LN or
// pre-LN) -> a final LayerNorm for pre-LN. The same stack code runs the shallow decoder
// of the skip-corrupted (MAE-style) model.
#pragma once

#include <functional>

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

// The key of one dropout site (stream and substream) of a forward/backward.
RngKey site_key(const DropoutPlan& d, RngStream stream, uint32_t site);
// The hidden-dropout probability in effect: 0 when not training.
float hidden_p(const ModelConfig& cfg, const DropoutPlan& d);

enum class Stack { ENCODER, DECODER };

// Called by a backward pass after each layer with the layer's first gradient tensor: from
// there to the end of the flat gradient buffer every gradient is final. That holds because
// backward runs in the reverse of the table's order (model/params.cpp): the head, the
// decoder stack, the encoder's final LayerNorm and layers last to first, and the embeddings
// (which the tied decoder also writes) last. Data parallelism starts all-reducing gradient
// buckets from it (train/data_parallel.h). May be empty.
using GradsReady = std::function<void(const Tensor& first_final)>;

// Token + position (+ type) embeddings -> LayerNorm -> dropout, into `emb`; returns the
// (N, C) output. `dropout_site` tells the embedding calls of one step apart.
Tensor embeddings_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params,
                          const EmbeddingActivations& emb, const Tensor& zero_types, const BatchTensors& batch,
                          const DropoutPlan& dropout, uint32_t dropout_site);
// Accumulates embedding and embedding-LayerNorm gradients from d_out (N, C).
void embeddings_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                         const EmbeddingActivations& emb, const Tensor& zero_types, GradScratch& scratch,
                         const BatchTensors& batch, const DropoutPlan& dropout, uint32_t dropout_site,
                         const Tensor& d_out);

// Runs a layer stack (and its final LayerNorm, if it has one) on x (n, C) with sequence
// offsets cu_seqlens; returns the (n, C) output, a view into acts.
Tensor stack_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts, Stack stack,
                     const Tensor& x, const Tensor& cu_seqlens, const DropoutPlan& dropout);
// Accumulates the stack's parameter gradients from d_out, the gradient of its output
// (which it may overwrite); returns the gradient of x, a view into scratch.
Tensor stack_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                      const Activations& acts, GradScratch& scratch, Stack stack, const Tensor& x,
                      const Tensor& cu_seqlens, const DropoutPlan& dropout, const Tensor& d_out,
                      const GradsReady& ready = {});

// The standard encoder: embeddings, then the encoder stack.
Tensor encoder_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                       const BatchTensors& batch, const DropoutPlan& dropout);
void encoder_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                      const Activations& acts, GradScratch& scratch, const BatchTensors& batch,
                      const DropoutPlan& dropout, const Tensor& d_out, const GradsReady& ready = {});

}  // namespace masklm
