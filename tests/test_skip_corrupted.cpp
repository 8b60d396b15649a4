// The skip-corrupted (MAE-style) model: identical to the standard model with no decoder
// layers and nothing corrupted; the encoder sees exactly the uncorrupted tokens, with their
// position ids; and the decoder path's gradients match finite differences, also when
// nothing or everything is corrupted.
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

enum class Corruption { SOME, NONE, ALL };

// SOME corrupts the predicted tokens of every other prediction (input becomes [MASK]) and
// one whole short sequence, so some sequence reaches the encoder empty; ALL corrupts every
// token, so the encoder sees none.
Batch corrupted_batch(const ModelConfig& c, Corruption corruption = Corruption::SOME) {
  Batch b = random_batch(c, {5, 2, 9, 1}, 17);
  b.corrupted.assign(b.tokens.size(), 0);
  const auto corrupt = [&](int32_t i) {
    b.corrupted[static_cast<size_t>(i)] = 1;
    b.tokens[static_cast<size_t>(i)] = kMaskId;
  };
  if (corruption == Corruption::ALL)
    for (int32_t i = 0; i < b.num_tokens(); ++i) corrupt(i);
  if (corruption != Corruption::SOME) return b;
  for (size_t p = 0; p < b.predict_index.size(); p += 2) corrupt(b.predict_index[p]);
  corrupt(b.cu_seqlens[3]);  // the length-1 sequence
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

// A hand-made batch split, spelled out: sequences [10 11 12 13] at positions 0-3 and
// [20 21] at positions 5-6, flat tokens 1, 2 and 5 corrupted. The encoder's tokens keep
// their position ids (0 and 3, not 0 and 1) and types, and so do the [MASK] rows.
TEST(SkipCorrupted, SplitKeepsEachTokensPositionAndType) {
  Batch b;
  b.add_sequence({10, 11, 12, 13});
  b.add_sequence({20, 21}, 5);
  b.types = {0, 1, 1, 0, 1, 0};
  b.corrupted = {0, 1, 1, 0, 0, 1};
  SkipSplit split;
  split.reserve(b.num_tokens());
  Ctx cpu;
  split.split(cpu, skip_config(false, 1), b);
  using Ids = std::vector<int32_t>;
  EXPECT_EQ(split.kept_index, (Ids{0, 3, 4}));
  EXPECT_EQ(split.kept_tokens, (Ids{10, 13, 20}));
  EXPECT_EQ(split.kept_positions, (Ids{0, 3, 5}));
  EXPECT_EQ(split.kept_types, (Ids{0, 0, 1}));
  EXPECT_EQ(split.kept_cu_seqlens, (Ids{0, 2, 3}));
  EXPECT_EQ(split.masked_index, (Ids{1, 2, 5}));
  EXPECT_EQ(split.mask_tokens, (Ids{kMaskId, kMaskId, kMaskId}));
  EXPECT_EQ(split.mask_positions, (Ids{1, 2, 6}));
  EXPECT_EQ(split.mask_types, (Ids{1, 1, 0}));
  // What the encoder and the [MASK] embeddings read.
  const auto ids = [](const Tensor& t) { return Ids(t.ptr<int32_t>(), t.ptr<int32_t>() + t.numel()); };
  EXPECT_EQ(split.kept.num_tokens, 3);
  EXPECT_EQ(ids(split.kept.tokens), (Ids{10, 13, 20}));
  EXPECT_EQ(ids(split.kept.positions), (Ids{0, 3, 5}));
  EXPECT_EQ(ids(split.kept.types), (Ids{0, 0, 1}));
  EXPECT_EQ(ids(split.kept.cu_seqlens), (Ids{0, 2, 3}));
  EXPECT_EQ(ids(split.kept_rows), (Ids{0, 3, 4}));
  EXPECT_EQ(split.masked.num_tokens, 3);
  EXPECT_EQ(ids(split.masked.positions), (Ids{1, 2, 6}));
  EXPECT_EQ(ids(split.masked_rows), (Ids{1, 2, 5}));
}

class SkipCorruptedGradCheck : public ::testing::TestWithParam<std::tuple<bool, int, Corruption>> {};

TEST_P(SkipCorruptedGradCheck, EveryParameterMatchesFiniteDifferences) {
  const auto [pre_ln, decoder_layers, corruption] = GetParam();
  const ModelConfig cfg = skip_config(pre_ln, decoder_layers);
  const Batch batch = corrupted_batch(cfg, corruption);
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()}, DType::F64);
  model.set_vocab_chunk(8);
  randomize(model, 4);
  // The encoder's tensors are covered by the standard model's check: fewer coordinates here.
  testing::expect_model_gradients_match(model, batch, DropoutPlan{RngKey{9, 2, 0, RngStream::HIDDEN_DROPOUT, 0}, true},
                                        8);
}

std::string grad_check_name(const ::testing::TestParamInfo<SkipCorruptedGradCheck::ParamType>& info) {
  const auto [pre_ln, decoder_layers, corruption] = info.param;
  const char* corrupted = corruption == Corruption::SOME ? "some" : corruption == Corruption::NONE ? "none" : "all";
  return std::string(pre_ln ? "pre_ln" : "post_ln") + "_decoder" + std::to_string(decoder_layers) + "_corrupted_" +
         corrupted;
}

INSTANTIATE_TEST_SUITE_P(Decoders, SkipCorruptedGradCheck,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(0, 1),
                                            ::testing::Values(Corruption::SOME, Corruption::NONE, Corruption::ALL)),
                         grad_check_name);

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
