// Model FLOPs (train/flops.h) against a hand count for a small shape.
#include <gtest/gtest.h>

#include "train/flops.h"

namespace masklm {
namespace {

TEST(Flops, MatchesAHandCountOfEveryMatrixMultiply) {
  ModelConfig m;
  m.num_layers = 2;
  m.hidden_size = 4;
  m.num_heads = 2;
  m.intermediate_size = 8;
  m.vocab_size = 10;
  // One sequence of T = 3 tokens, 1 predicted. Forward multiply-adds per layer:
  //   Q, K, V, output projections 4 · (3 tokens · 4 · 4) = 192;  FFN 3 · (4·8 + 8·4) = 192
  //   QKᵀ: 3 queries · 3 keys · 4 dims = 36;  A·V: the same, 36          → 456 per layer
  // Head: dense 4·4 = 16, logits 4·10 = 40 for the predicted token        → 56
  // FLOPs = 3 (forward + backward) · 2 (per multiply-add) · (2 · 456 + 56) = 5808.
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, 3, 1, 3), 5808.0);
  // Linear in tokens (at a fixed sequence length) and in predictions.
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, 6, 2, 3), 2 * 5808.0);
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, 3, 0, 3), 5808.0 - 6 * 56);
}

}  // namespace
}  // namespace masklm
