// Model FLOPs of MLM training, the numerator of throughput and MFU figures. Counted as in
// the PaLM/Chinchilla convention: matrix multiplies only (2 FLOPs per multiply-add),
// backward = 2 × forward, so a training step costs 3 × its forward FLOPs; LayerNorm,
// GELU, softmax, embedding lookups and the optimizer are left out (they are O(C) per
// token against O(C²)). Per token, with L layers, hidden C, FFN F and attention over a
// sequence of T tokens, the encoder's forward is
//   L · (2·4C²  +  2·2CF  +  2·2TC)        QKV + output projections, FFN, QKᵀ and A·V
// and the sparse MLM head's forward, per predicted token only (P of them), is
//   2C² + 2CV                               dense transform, logits against the embeddings
// The skip-corrupted model (model/skip_corrupted.h) counts what it computes: its encoder
// runs on the uncorrupted tokens only, in sequences shortened in proportion, and its k
// decoder layers, blocks of the same shape, on every token at the full length.
#pragma once

#include <cstdint>

#include "model/config.h"

namespace masklm {

// What a stretch of training processed (a step, the steps of a log record).
struct TokenCounts {
  int64_t tokens = 0;       // in sequences of the run's seq_len tokens
  int64_t predictions = 0;  // the sparse head's rows
  int64_t corrupted = 0;    // what the skip-corrupted model's encoder leaves out

  TokenCounts& operator+=(const TokenCounts& o) {
    tokens += o.tokens;
    predictions += o.predictions;
    corrupted += o.corrupted;
    return *this;
  }
};

// Training FLOPs (forward + backward) of `counts` in sequences of `seq_len` tokens.
// Packed shards fill every sequence; for shorter sequences seq_len overstates the
// attention term, an upper bound.
double mlm_training_flops(const ModelConfig& model, const TokenCounts& counts, int64_t seq_len);

}  // namespace masklm
