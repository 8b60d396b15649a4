// Whole-model checks: finite-difference gradients in double (post-LN and pre-LN, with and
// without dropout), the unpadded layout against sequences run one by one, and bad input.
#include <gtest/gtest.h>

#include <random>

#include "expect_error.h"
#include "model_test_support.h"

namespace masklm {
namespace {

using testing::random_batch;
using testing::randomize;
using testing::small_config;

class ModelGradCheck : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(ModelGradCheck, EveryParameterMatchesFiniteDifferences) {
  const auto [pre_ln, training] = GetParam();
  const ModelConfig cfg = small_config(pre_ln);
  const Batch batch = random_batch(cfg, {5, 1, 9}, 7);
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()}, DType::F64);
  model.set_vocab_chunk(8);
  randomize(model, 3);
  const DropoutPlan dropout{RngKey{11, 5, 0, RngStream::HIDDEN_DROPOUT, 0}, training};
  testing::expect_model_gradients_match(model, batch, dropout);
}

INSTANTIATE_TEST_SUITE_P(Placements, ModelGradCheck, ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "pre_ln" : "post_ln") +
                                  (std::get<1>(info.param) ? "_dropout" : "_eval");
                         });

// A batch of different-length sequences equals running each sequence alone: same encoder
// outputs, and batch gradients are the prediction-weighted mean of per-sequence gradients.
TEST(Model, UnpaddedBatchEqualsSequencesAlone) {
  for (bool pre_ln : {false, true}) {
    const ModelConfig cfg = small_config(pre_ln);
    const std::vector<int> lengths = {6, 1, 11, 3};
    const Batch batch = random_batch(cfg, lengths, 21);
    MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()}, DType::F64);
    randomize(model, 9);
    Ctx ctx;
    model.zero_grads(ctx);
    const MlmStats all = model.forward(ctx, batch, {});
    model.backward(ctx, {});
    const Tensor out = model.encoder_output();
    std::vector<double> out_batch(out.ptr<double>(), out.ptr<double>() + out.numel());
    const Tensor grads = model.grad_arena().flat(DType::F64);
    std::vector<double> grad_batch(grads.ptr<double>(), grads.ptr<double>() + grads.numel());

    std::vector<double> grad_sum(grad_batch.size(), 0.0);
    double loss_sum = 0;
    const int64_t C = cfg.hidden_size;
    for (size_t s = 0; s < lengths.size(); ++s) {
      const int32_t begin = batch.cu_seqlens[s], end = batch.cu_seqlens[s + 1];
      Batch one;
      one.add_sequence({batch.tokens.begin() + begin, batch.tokens.begin() + end});
      one.types.assign(batch.types.begin() + begin, batch.types.begin() + end);
      for (size_t p = 0; p < batch.predict_index.size(); ++p)
        if (batch.predict_index[p] >= begin && batch.predict_index[p] < end)
          one.add_prediction(batch.predict_index[p] - begin, batch.labels[p]);
      model.zero_grads(ctx);
      const MlmStats st = model.forward(ctx, one, {});
      model.backward(ctx, {});
      const double weight = static_cast<double>(st.predictions) / static_cast<double>(all.predictions);
      loss_sum += weight * st.loss;
      const double* o = model.encoder_output().ptr<double>();
      for (int64_t i = 0; i < (end - begin) * C; ++i) EXPECT_NEAR(o[i], out_batch[begin * C + i], 1e-12);
      const double* g = model.grad_arena().flat(DType::F64).ptr<double>();
      for (size_t i = 0; i < grad_sum.size(); ++i) grad_sum[i] += weight * g[i];
    }
    EXPECT_NEAR(loss_sum, all.loss, 1e-12);
    EXPECT_LT(testing::relative_error(grad_sum.data(), grad_batch.data(), static_cast<int64_t>(grad_sum.size())), 1e-12);
  }
}

TEST(Model, BadBatchesAreRejectedWithClearErrors) {
  const ModelConfig cfg = small_config(false);
  MlmModel model(cfg, {8, 4});
  Ctx ctx;
  auto expect_error = [&](const Batch& b, const char* needle) {
    testing::expect_error([&] { model.forward(ctx, b, {}); }, needle);
  };
  Batch ok;
  ok.add_sequence({1, 2, 3});
  ok.add_prediction(1, 2);
  Batch b = ok;
  b.tokens[0] = 37;
  expect_error(b, "outside vocabulary");
  b = ok;
  b.add_sequence({1, 2, 3, 4, 5, 6});
  expect_error(b, "sized for 8");
  b = ok;
  b.predict_index[0] = 3;
  expect_error(b, "predicted index");
  b = ok;
  b.positions[2] = 16;
  expect_error(b, "max_position_embeddings");
  b = ok;
  b.predict_index.clear();
  b.labels.clear();
  expect_error(b, "no predicted positions");
}

}  // namespace
}  // namespace masklm
