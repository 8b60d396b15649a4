// Model FLOPs (train/flops.h) against hand counts for small shapes, standard and
// skip-corrupted.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "train/flops.h"

namespace masklm {
namespace {

ModelConfig small_model() {
  ModelConfig m;
  m.num_layers = 2;
  m.hidden_size = 4;
  m.num_heads = 2;
  m.intermediate_size = 8;
  m.vocab_size = 10;
  return m;
}

TEST(Flops, MatchesAHandCountOfEveryMatrixMultiply) {
  const ModelConfig m = small_model();
  // One sequence of T = 3 tokens, 1 predicted. Forward multiply-adds per layer:
  //   Q, K, V, output projections 4 · (3 tokens · 4 · 4) = 192;  FFN 3 · (4·8 + 8·4) = 192
  //   QKᵀ: 3 queries · 3 keys · 4 dims = 36;  A·V: the same, 36          → 456 per layer
  // Head: dense 4·4 = 16, logits 4·10 = 40 for the predicted token        → 56
  // FLOPs = 3 (forward + backward) · 2 (per multiply-add) · (2 · 456 + 56) = 5808.
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, {.tokens = 3, .predictions = 1}, 3), 5808.0);
  // Linear in tokens (at a fixed sequence length) and in predictions.
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, {.tokens = 6, .predictions = 2}, 3), 2 * 5808.0);
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, {.tokens = 3, .predictions = 0}, 3), 5808.0 - 6 * 56);
  // The standard model's encoder sees corrupted tokens like any other.
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, {.tokens = 3, .predictions = 1, .corrupted = 2}, 3),
                   5808.0);
}

TEST(Flops, SkipCorruptedCountsTheShortEncoderAndTheDecoder) {
  ModelConfig m = small_model();
  m.skip_corrupted = true;
  m.decoder_layers = 1;
  // One sequence of T = 4 tokens, 2 corrupted (and predicted). Forward multiply-adds:
  //   encoder, per layer, on the 2 kept tokens (a sequence of 2):
  //     projections 4 · (2 · 4 · 4) = 128;  FFN 2 · 64 = 128;  QKᵀ and A·V 2 · (2·2·4) = 32
  //     → 288, times 2 layers = 576
  //   decoder, 1 layer on all 4 tokens: 4 · (4·16) = 256;  4 · 64 = 256;  2 · (4·4·4) = 128
  //     → 640
  //   head: 2 predictions · 56 = 112
  // FLOPs = 3 · 2 · (576 + 640 + 112) = 7968.
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, {.tokens = 4, .predictions = 2, .corrupted = 2}, 4),
                   7968.0);
  // Nothing corrupted and no decoder: the standard model's count.
  m.decoder_layers = 0;
  ModelConfig standard = small_model();
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, {.tokens = 3, .predictions = 1}, 3),
                   mlm_training_flops(standard, {.tokens = 3, .predictions = 1}, 3));
  // Everything corrupted: only the head is left.
  EXPECT_DOUBLE_EQ(mlm_training_flops(m, {.tokens = 3, .predictions = 3, .corrupted = 3}, 3),
                   3 * 2 * 3 * 56.0);
  testing::expect_error(
      [&] { mlm_training_flops(m, {.tokens = 3, .predictions = 1, .corrupted = 4}, 3); },
      "4 corrupted tokens out of 3");
}

}  // namespace
}  // namespace masklm
