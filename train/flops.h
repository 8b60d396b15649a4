// Model FLOPs of MLM training, the numerator of throughput and MFU figures. Counted as in
// the PaLM/Chinchilla convention: matrix multiplies only (2 FLOPs per multiply-add),
// backward = 2 × forward, so a training step costs 3 × its forward FLOPs; LayerNorm,
// GELU, softmax, embedding lookups and the optimizer are left out (they are O(C) per
// token against O(C²)). Per token, with L layers, hidden C, FFN F and attention over a
// sequence of T tokens, the encoder's forward is
//   L · (2·4C²  +  2·2CF  +  2·2TC)        QKV + output projections, FFN, QKᵀ and A·V
// and the sparse MLM head's forward, per predicted token only (P of them), is
//   2C² + 2CV                               dense transform, logits against the embeddings
#pragma once

#include <cstdint>

#include "model/config.h"

namespace masklm {

// Training FLOPs (forward + backward) of `tokens` tokens in sequences of `seq_len` tokens
// with `predictions` predicted positions. Packed shards fill every sequence; for shorter
// sequences seq_len overstates the attention term, an upper bound.
double mlm_training_flops(const ModelConfig& model, int64_t tokens, int64_t predictions,
                          int64_t seq_len);

}  // namespace masklm
