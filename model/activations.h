// Activation and activation-gradient buffers, carved once from one arena for the largest
// micro-batch (max_tokens tokens, max_predictions predicted positions). A forward pass on
// N <= max_tokens tokens uses the first N rows of each buffer.
#pragma once

#include <vector>

#include "model/config.h"
#include "runtime/arena.h"

namespace masklm {

struct Capacity {
  int64_t max_tokens = 0;       // N at most
  int64_t max_predictions = 0;  // P at most
};

// What one layer keeps for its backward. Post-LN: res1 = x + attn_proj, ln1 = LN(res1),
// res2 = ln1 + ffn_out, ln2 = LN(res2) is the output. Pre-LN: ln1 = LN(x), res1 = x +
// attn_proj, ln2 = LN(res1), res2 = res1 + ffn_out is the output.
struct LayerActivations {
  Tensor ln1, ln1_mean, ln1_rstd;  // (N, C), (N), (N)
  Tensor qkv;                      // (N, 3C)
  Tensor attn, attn_lse;           // (N, C), (NH * max_N) flat: viewed as (NH, N) per batch
  Tensor attn_proj;                // (N, C), after dropout
  Tensor res1;                     // (N, C)
  Tensor ln2, ln2_mean, ln2_rstd;  // (N, C), (N), (N)
  Tensor ffn_pre, ffn_act;         // (N, F) before and after GELU
  Tensor ffn_out;                  // (N, C), after dropout
  Tensor res2;                     // (N, C)
};

struct EmbeddingActivations {
  Tensor sum;             // (N, C) token + position + type
  Tensor out;             // (N, C) after LayerNorm and dropout
  Tensor mean, rstd;      // (N)
};

struct NormActivations {
  Tensor out, mean, rstd;  // (N, C), (N), (N)
};

struct Activations {
  EmbeddingActivations emb;
  std::vector<LayerActivations> layers;  // the encoder stack
  NormActivations final_norm;            // pre-LN only
  // Skip-corrupted model only: [MASK] embeddings of the corrupted positions, the
  // decoder's input (encoder outputs and those embeddings, in token order), its stack.
  EmbeddingActivations mask_emb;
  Tensor decoder_in;                     // (N, C)
  std::vector<LayerActivations> decoder_layers;
  NormActivations decoder_final_norm;    // pre-LN with a decoder only
  // Sparse head, (P, ...) rows only.
  Tensor head_in, head_pre, head_act;          // (P, C) gathered, dense, GELU
  Tensor head_out, head_mean, head_rstd;       // (P, C) after LN, (P), (P)
  Tensor losses, lse, correct;                 // (P), (P), (P) I32
  Tensor zero_types;                           // (N) I32 zeros, when the batch has no types
};

// Scratch for the backward pass, reused by every layer.
struct GradScratch {
  Tensor d_stream_a, d_stream_b;  // (N, C) residual-stream gradients (layer output / input)
  Tensor d_res, d_ln, d_tmp;      // (N, C)
  Tensor d_attn;                  // (N, C)
  Tensor d_qkv;                   // (N, 3C)
  Tensor d_ffn_act, d_ffn_pre;    // (N, F)
  Tensor d_head_out, d_head_act, d_head_pre, d_head_in;  // (P, C)
  Tensor d_encoder_out, d_mask_emb;  // (N, C), skip-corrupted model only
};

// Carves both from `arena` (use Arena::measuring() first to size it) in the compute dtype
// `dtype`; with BF16/F16 the statistics (mean, rstd, lse) and losses are F32
// (kernels/dispatch.h's accum_dtype).
void layout_activations(const ModelConfig& config, Capacity cap, Arena& arena, DType dtype,
                        Activations& acts, GradScratch& scratch);

}  // namespace masklm
