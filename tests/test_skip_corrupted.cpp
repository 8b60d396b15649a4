// The skip-corrupted (MAE-style) model: identical to the standard model with no decoder
// layers and nothing corrupted; the encoder sees exactly the uncorrupted tokens; and the
// decoder path's gradients match finite differences.
#include <gtest/gtest.h>

#include <cstring>

#include "model_test_support.h"

namespace masklm {
namespace {

using testing::random_batch;
using testing::randomize;
using testing::small_config;

constexpr int32_t kMaskId = 3;

ModelConfig skip_config(bool pre_ln, int64_t decoder_layers) {
  ModelConfig c = small_config(pre_ln);
  c.skip_corrupted = true;
  c.decoder_layers = decoder_layers;
  c.mask_token_id = kMaskId;
  return c;
}

// Corrupts the predicted tokens of every other prediction (input becomes [MASK]) and one
// whole short sequence, so some sequence reaches the encoder empty.
Batch corrupted_batch(const ModelConfig& c) {
  Batch b = random_batch(c, {5, 2, 9, 1}, 17);
  b.corrupted.assign(b.tokens.size(), 0);
  for (size_t p = 0; p < b.predict_index.size(); p += 2) {
    b.corrupted[static_cast<size_t>(b.predict_index[p])] = 1;
    b.tokens[static_cast<size_t>(b.predict_index[p])] = kMaskId;
  }
  const int32_t last = b.cu_seqlens[3];  // the length-1 sequence
  b.corrupted[static_cast<size_t>(last)] = 1;
  return b;
}

std::vector<double> flat_copy(Arena& a) {
  const Tensor t = a.flat(DType::F64);
  return {t.ptr<double>(), t.ptr<double>() + t.numel()};
}

TEST(SkipCorrupted, NoDecoderAndNothingCorruptedIsTheStandardModel) {
  for (bool pre_ln : {false, true}) {
    const ModelConfig standard_cfg = small_config(pre_ln);
    const Batch batch = random_batch(standard_cfg, {6, 1, 4}, 5);
    const DropoutPlan dropout{RngKey{3, 1, 0, RngStream::HIDDEN_DROPOUT, 0}, true};
    MlmModel standard(standard_cfg, {batch.num_tokens(), batch.num_predictions()}, DType::F64);
    MlmModel skip(skip_config(pre_ln, 0), {batch.num_tokens(), batch.num_predictions()}, DType::F64);
    ASSERT_EQ(standard.param_arena().used(), skip.param_arena().used());
    randomize(standard, 1);
    std::memcpy(skip.param_arena().base(), standard.param_arena().base(), standard.param_arena().used());

    Ctx ctx;
    standard.zero_grads(ctx);
    skip.zero_grads(ctx);
    const MlmStats a = standard.forward(ctx, batch, dropout);
    const MlmStats b = skip.forward(ctx, batch, dropout);
    EXPECT_EQ(a.loss, b.loss);  // bitwise: the same ops on the same values
    standard.backward(ctx, dropout);
    skip.backward(ctx, dropout);
    EXPECT_EQ(flat_copy(standard.grad_arena()), flat_copy(skip.grad_arena()));
  }
}

TEST(SkipCorrupted, EncoderSeesExactlyTheUncorruptedTokens) {
  const ModelConfig cfg = skip_config(true, 1);
  const Batch batch = corrupted_batch(cfg);
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()});
  model.init_weights(0);
  Ctx ctx;
  model.forward(ctx, batch, {});
  EXPECT_GT(batch.num_corrupted(), 0);
  EXPECT_EQ(model.encoder_tokens(), batch.num_tokens() - batch.num_corrupted());
}

class SkipCorruptedGradCheck : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(SkipCorruptedGradCheck, EveryParameterMatchesFiniteDifferences) {
  const auto [pre_ln, decoder_layers] = GetParam();
  const ModelConfig cfg = skip_config(pre_ln, decoder_layers);
  const Batch batch = corrupted_batch(cfg);
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()}, DType::F64);
  model.set_vocab_chunk(8);
  randomize(model, 4);
  // The encoder's tensors are covered by the standard model's check: fewer coordinates here.
  testing::expect_model_gradients_match(model, batch, DropoutPlan{RngKey{9, 2, 0, RngStream::HIDDEN_DROPOUT, 0}, true},
                                        8);
}

INSTANTIATE_TEST_SUITE_P(Decoders, SkipCorruptedGradCheck,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(0, 1)), [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "pre_ln" : "post_ln") + "_decoder" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(SkipCorrupted, ConfigNeedsAMaskTokenAndDecoderNeedsSkip) {
  ModelConfig c = small_config(false);
  c.decoder_layers = 1;
  EXPECT_THROW(c.validate(), Error);
  c.skip_corrupted = true;
  EXPECT_THROW(c.validate(), Error);  // no mask_token_id
  c.mask_token_id = kMaskId;
  EXPECT_NO_THROW(c.validate());
}

}  // namespace
}  // namespace masklm
